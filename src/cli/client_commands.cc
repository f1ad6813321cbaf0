#include "cli/client_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/progress.h"
#include "cli/s3_client.h"

namespace cleave::cli {

namespace {

struct ClientFlags {
    std::string endpoint;
    std::string access_key;
    std::string secret_key;
    std::string region = "us-east-1";
    bool no_progress = false;
};

struct S3Uri {
    std::string bucket;
    std::string key;
};

bool is_s3_uri(const std::string& s) { return s.rfind("s3://", 0) == 0; }

Result<S3Uri> parse_uri(const std::string& s) {
    if (!is_s3_uri(s))
        return Status::invalid_argument(fmt::format("'{}' is not an s3://BUCKET/KEY URI", s));
    std::string rest = s.substr(5);
    auto slash = rest.find('/');
    S3Uri u;
    u.bucket = rest.substr(0, slash);
    if (slash != std::string::npos) u.key = rest.substr(slash + 1);
    if (u.bucket.empty()) return Status::invalid_argument(fmt::format("'{}' names no bucket", s));
    return u;
}

std::string env_or(const char* a, const char* b, const std::string& fallback = {}) {
    for (const char* name : {a, b}) {
        if (name == nullptr) continue;
        const char* v = std::getenv(name);
        if (v && *v) return v;
    }
    return fallback;
}

Result<std::unique_ptr<S3Client>> connect(const ClientFlags& f) {
    return connect_client(f.endpoint, f.access_key, f.secret_key, f.region);
}

int report(const std::string& cmd, const Status& s) {
    if (s.is_ok()) return 0;
    std::fprintf(stderr, "cleave %s: %s\n", cmd.c_str(),
                 s.message().empty() ? s.to_string().c_str() : s.message().c_str());
    return 1;
}

// Runs `body` and exits with its status: CLI11 callbacks can't return codes.
template <typename F>
void run(const std::string& cmd, F body) {
    std::exit(report(cmd, body()));
}

std::string human_size(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

Status do_cp(const ClientFlags& f, const std::string& src, const std::string& dst) {
    CLEAVE_ASSIGN_OR_RETURN(auto client, connect(f));
    if (!is_s3_uri(src) && is_s3_uri(dst)) {
        CLEAVE_ASSIGN_OR_RETURN(S3Uri to, parse_uri(dst));
        if (to.key.empty() || to.key.back() == '/') {
            to.key += std::filesystem::path(src).filename().string();
        }
        int fd = src == "-" ? STDIN_FILENO : ::open(src.c_str(), O_RDONLY);
        if (fd < 0)
            return Status::not_found(fmt::format("cannot open {}: {}", src, std::strerror(errno)));
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd != STDIN_FILENO) ::close(fd);
            return Status::invalid_argument(fmt::format("{} is not a regular file", src));
        }
        uint64_t size = static_cast<uint64_t>(st.st_size);
        Progress bar("upload", size, !f.no_progress);
        auto read = [&](uint64_t off, size_t n) -> Result<std::string> {
            std::string buf(n, '\0');
            size_t got = 0;
            while (got < n) {
                ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(off + got));
                if (r < 0)
                    return Status::io_error(
                        fmt::format("reading {}: {}", src, std::strerror(errno)));
                if (r == 0) return Status::io_error(fmt::format("{} shrank while uploading", src));
                got += static_cast<size_t>(r);
            }
            return buf;
        };
        auto etag = client->upload(to.bucket, to.key, size, read,
                                   [&](uint64_t d, uint64_t t) { bar.update(d, t); });
        ::close(fd);
        bar.finish();
        if (!etag.is_ok()) return etag.status();
        std::printf("upload: %s to s3://%s/%s (%s)\n", src.c_str(), to.bucket.c_str(),
                    to.key.c_str(), human_size(size).c_str());
        return Status::ok();
    }
    if (is_s3_uri(src) && !is_s3_uri(dst)) {
        CLEAVE_ASSIGN_OR_RETURN(S3Uri from, parse_uri(src));
        if (from.key.empty())
            return Status::invalid_argument(fmt::format("'{}' names no object", src));
        std::string path = dst;
        if (std::filesystem::is_directory(path)) {
            path =
                (std::filesystem::path(path) / std::filesystem::path(from.key).filename()).string();
        }
        std::string tmp = path + ".cleave-part";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return Status::io_error(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
        CLEAVE_ASSIGN_OR_RETURN(auto head, client->head(from.bucket, from.key));
        const std::string* len = head.header("Content-Length");
        uint64_t total = len ? std::strtoull(len->c_str(), nullptr, 10) : 0;
        Progress bar("download", total, !f.no_progress);
        auto got = client->download(
            from.bucket, from.key,
            [&](std::string_view data) -> Status {
                while (!data.empty()) {
                    ssize_t w = ::write(fd, data.data(), data.size());
                    if (w < 0)
                        return Status::io_error(
                            fmt::format("writing {}: {}", tmp, std::strerror(errno)));
                    data.remove_prefix(static_cast<size_t>(w));
                }
                return Status::ok();
            },
            [&](uint64_t d, uint64_t t) { bar.update(d, t); });
        bar.finish();
        bool synced = ::fsync(fd) == 0;
        ::close(fd);
        if (!got.is_ok()) {
            ::unlink(tmp.c_str());
            return got.status();
        }
        if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
            return Status::io_error(fmt::format("cannot write {}", path));
        }
        std::printf("download: s3://%s/%s to %s (%s)\n", from.bucket.c_str(), from.key.c_str(),
                    path.c_str(), human_size(*got).c_str());
        return Status::ok();
    }
    if (is_s3_uri(src) && is_s3_uri(dst)) {
        CLEAVE_ASSIGN_OR_RETURN(S3Uri from, parse_uri(src));
        CLEAVE_ASSIGN_OR_RETURN(S3Uri to, parse_uri(dst));
        if (from.key.empty() || to.key.empty()) {
            return Status::invalid_argument("copy between buckets needs object keys on both sides");
        }
        std::string source = "/" + from.bucket + "/" + s3::uri_encode(from.key, false);
        CLEAVE_ASSIGN_OR_RETURN(auto r, client->request("PUT", to.bucket, to.key, {}, "",
                                                        {{"x-amz-copy-source", source}}));
        if (r.status != 200 || r.body.find("<Error>") != std::string::npos) return error_of(r);
        std::printf("copy: %s to %s\n", src.c_str(), dst.c_str());
        return Status::ok();
    }
    return Status::invalid_argument("cp needs at least one s3:// side");
}

Status do_ls(const ClientFlags& f, const std::string& target, bool recursive) {
    CLEAVE_ASSIGN_OR_RETURN(auto client, connect(f));
    if (target.empty()) {
        CLEAVE_ASSIGN_OR_RETURN(auto buckets, client->list_buckets());
        for (const auto& b : buckets) std::printf("s3://%s\n", b.c_str());
        return Status::ok();
    }
    CLEAVE_ASSIGN_OR_RETURN(S3Uri u, parse_uri(target));
    CLEAVE_ASSIGN_OR_RETURN(auto entries, client->list(u.bucket, u.key, recursive ? "" : "/"));
    for (const auto& e : entries) {
        if (e.is_prefix) {
            std::printf("%30s  %s\n", "DIR", e.key.c_str());
        } else {
            std::printf("%-24s %12llu  %s\n", e.last_modified.c_str(),
                        static_cast<unsigned long long>(e.size), e.key.c_str());
        }
    }
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<S3Client>> connect_client(const std::string& endpoint,
                                                 const std::string& access_key,
                                                 const std::string& secret_key,
                                                 const std::string& region) {
    ClientConfig c;
    c.endpoint =
        endpoint.empty() ? env_or("CLEAVE_ENDPOINT", nullptr, "http://127.0.0.1:9000") : endpoint;
    c.credentials.access_key =
        access_key.empty() ? env_or("CLEAVE_ACCESS_KEY", "AWS_ACCESS_KEY_ID") : access_key;
    c.credentials.secret_key =
        secret_key.empty() ? env_or("CLEAVE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY") : secret_key;
    c.region = region;
    if (c.credentials.access_key.empty() || c.credentials.secret_key.empty()) {
        return Status::invalid_argument(
            "no credentials: set CLEAVE_ACCESS_KEY and CLEAVE_SECRET_KEY (or pass --access-key "
            "and --secret-key)");
    }
    return S3Client::connect(std::move(c));
}

void add_client_commands(CLI::App& app) {
    auto flags = std::make_shared<ClientFlags>();
    auto common = [flags](CLI::App* cmd) {
        cmd->add_option("--endpoint", flags->endpoint,
                        "S3 endpoint (default $CLEAVE_ENDPOINT or http://127.0.0.1:9000)");
        cmd->add_option("--access-key", flags->access_key, "Default $CLEAVE_ACCESS_KEY");
        cmd->add_option("--secret-key", flags->secret_key, "Default $CLEAVE_SECRET_KEY");
        cmd->add_option("--region", flags->region, "Region to sign for");
        cmd->add_flag("--no-progress", flags->no_progress, "Never draw a progress bar");
    };

    auto target = std::make_shared<std::string>();
    auto src = std::make_shared<std::string>();
    auto dst = std::make_shared<std::string>();
    auto recursive = std::make_shared<bool>(false);

    auto* mb = app.add_subcommand("mb", "Make a bucket: cleave mb s3://BUCKET");
    common(mb);
    mb->add_option("bucket", *target, "s3://BUCKET")->required();
    mb->callback([=] {
        run("mb", [&]() -> Status {
            CLEAVE_ASSIGN_OR_RETURN(S3Uri u, parse_uri(*target));
            CLEAVE_ASSIGN_OR_RETURN(auto client, connect(*flags));
            CLEAVE_RETURN_IF_ERROR(client->make_bucket(u.bucket));
            std::printf("make_bucket: s3://%s\n", u.bucket.c_str());
            return Status::ok();
        });
    });

    auto* ls =
        app.add_subcommand("ls", "List buckets, or objects: cleave ls [s3://BUCKET[/PREFIX]]");
    common(ls);
    ls->add_option("target", *target, "s3://BUCKET[/PREFIX]");
    ls->add_flag("-r,--recursive", *recursive, "List every key, not one directory level");
    ls->callback([=] { run("ls", [&] { return do_ls(*flags, *target, *recursive); }); });

    auto* cp =
        app.add_subcommand("cp", "Copy: FILE s3://B/K, s3://B/K FILE, or s3://B/K s3://B2/K2");
    common(cp);
    cp->add_option("source", *src, "Local file (or -) or s3://BUCKET/KEY")->required();
    cp->add_option("destination", *dst, "Local path or s3://BUCKET/KEY")->required();
    cp->callback([=] { run("cp", [&] { return do_cp(*flags, *src, *dst); }); });

    auto* rm = app.add_subcommand(
        "rm", "Remove an object (s3://BUCKET/KEY) or an empty bucket (s3://BUCKET)");
    common(rm);
    rm->add_option("target", *target, "s3://BUCKET[/KEY]")->required();
    rm->add_flag("-r,--recursive", *recursive, "Remove every object under the prefix");
    rm->callback([=] {
        run("rm", [&]() -> Status {
            CLEAVE_ASSIGN_OR_RETURN(S3Uri u, parse_uri(*target));
            CLEAVE_ASSIGN_OR_RETURN(auto client, connect(*flags));
            if (*recursive) {
                CLEAVE_ASSIGN_OR_RETURN(auto entries, client->list(u.bucket, u.key, ""));
                for (const auto& e : entries) {
                    CLEAVE_RETURN_IF_ERROR(client->remove(u.bucket, e.key));
                    std::printf("delete: s3://%s/%s\n", u.bucket.c_str(), e.key.c_str());
                }
                return Status::ok();
            }
            if (u.key.empty()) {
                CLEAVE_RETURN_IF_ERROR(client->remove_bucket(u.bucket));
                std::printf("remove_bucket: s3://%s\n", u.bucket.c_str());
                return Status::ok();
            }
            CLEAVE_RETURN_IF_ERROR(client->remove(u.bucket, u.key));
            std::printf("delete: s3://%s/%s\n", u.bucket.c_str(), u.key.c_str());
            return Status::ok();
        });
    });

    auto* cat = app.add_subcommand("cat", "Write an object to standard output");
    common(cat);
    cat->add_option("object", *target, "s3://BUCKET/KEY")->required();
    cat->callback([=] {
        run("cat", [&]() -> Status {
            CLEAVE_ASSIGN_OR_RETURN(S3Uri u, parse_uri(*target));
            if (u.key.empty()) return Status::invalid_argument("cat needs s3://BUCKET/KEY");
            CLEAVE_ASSIGN_OR_RETURN(auto client, connect(*flags));
            auto got =
                client->download(u.bucket, u.key,
                                 [](std::string_view d) {
                                     return std::fwrite(d.data(), 1, d.size(), stdout) == d.size()
                                                ? Status::ok()
                                                : Status::io_error("writing standard output");
                                 },
                                 {});
            std::fflush(stdout);
            return got.status();
        });
    });

    auto* st = app.add_subcommand("stat", "Show an object's (or bucket's) metadata");
    common(st);
    st->add_option("target", *target, "s3://BUCKET[/KEY]")->required();
    st->callback([=] {
        run("stat", [&]() -> Status {
            CLEAVE_ASSIGN_OR_RETURN(S3Uri u, parse_uri(*target));
            CLEAVE_ASSIGN_OR_RETURN(auto client, connect(*flags));
            CLEAVE_ASSIGN_OR_RETURN(auto r, client->head(u.bucket, u.key));
            std::printf("%s\n", target->c_str());
            for (const auto& [k, v] : r.headers) {
                std::string lk = s3::to_lower(k);
                if (lk == "content-length" || lk == "content-type" || lk == "etag" ||
                    lk == "last-modified" || lk.rfind("x-amz-meta-", 0) == 0 ||
                    lk == "cache-control" || lk == "content-encoding" ||
                    lk == "content-disposition") {
                    std::printf("  %s: %s\n", k.c_str(), v.c_str());
                }
            }
            return Status::ok();
        });
    });
}

}  // namespace cleave::cli
