#include "cli/s3_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <pugixml.hpp>

#include "common/clock.h"
#include "common/hash.h"
#include "s3/http_util.h"

namespace cleave::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct S3Client::Conn {
    asio::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
    bool open = false;
};

const std::string* HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (s3::iequals(k, name)) return &v;
    }
    return nullptr;
}

Status error_of(const HttpResponse& r) {
    std::string code = "HTTP" + std::to_string(r.status);
    std::string message;
    pugi::xml_document doc;
    if (!r.body.empty() && doc.load_buffer(r.body.data(), r.body.size())) {
        if (auto e = doc.child("Error")) {
            code = e.child_value("Code");
            message = e.child_value("Message");
        }
    }
    Errc errc = r.status == 404   ? Errc::not_found
                : r.status == 409 ? Errc::already_exists
                : r.status == 412 ? Errc::precondition_failed
                : r.status >= 500 ? Errc::unavailable
                                  : Errc::invalid_argument;
    return Status(errc, fmt::format("{}{}{} (HTTP {})", code, message.empty() ? "" : ": ", message,
                                    r.status));
}

Result<std::unique_ptr<S3Client>> S3Client::connect(ClientConfig config) {
    std::string_view ep = config.endpoint;
    if (ep.rfind("http://", 0) != 0) {
        return Status::invalid_argument(
            fmt::format("endpoint '{}' must start with http://", config.endpoint));
    }
    ep.remove_prefix(7);
    while (!ep.empty() && ep.back() == '/') ep.remove_suffix(1);
    auto colon = ep.rfind(':');
    auto client = std::unique_ptr<S3Client>(new S3Client(std::move(config)));
    if (colon == std::string_view::npos) {
        client->host_ = std::string(ep);
        client->port_ = "80";
    } else {
        client->host_ = std::string(ep.substr(0, colon));
        client->port_ = std::string(ep.substr(colon + 1));
    }
    if (client->host_.empty()) return Status::invalid_argument("endpoint has no host");
    CLEAVE_RETURN_IF_ERROR(client->ensure_connected());
    return client;
}

S3Client::S3Client(ClientConfig config)
    : config_(std::move(config)), conn_(std::make_unique<Conn>()) {}
S3Client::~S3Client() = default;

Status S3Client::ensure_connected() {
    if (conn_->open) return Status::ok();
    beast::error_code ec;
    tcp::resolver resolver(conn_->io);
    auto results = resolver.resolve(host_, port_, ec);
    if (ec) return Status::unavailable(fmt::format("cannot resolve {}: {}", host_, ec.message()));
    conn_->stream.connect(results, ec);
    if (ec) {
        return Status::unavailable(
            fmt::format("cannot connect to {}: {}", config_.endpoint, ec.message()));
    }
    conn_->open = true;
    conn_->buffer.clear();
    return Status::ok();
}

Result<HttpResponse> S3Client::request(const std::string& method, const std::string& bucket,
                                       const std::string& key, const s3::QueryParams& query,
                                       const std::string& body, s3::HeaderList headers,
                                       const SinkFn* sink, const ProgressFn* progress) {
    std::string raw_path = "/";
    if (!bucket.empty()) {
        raw_path += s3::uri_encode(bucket, true);
        if (!key.empty()) raw_path += "/" + s3::uri_encode(key, false);
    }
    std::string target = raw_path;
    if (!query.empty()) {
        target += "?";
        bool first = true;
        for (const auto& [k, v] : query) {
            if (!first) target += "&";
            first = false;
            target += s3::uri_encode(k, true);
            if (!v.empty()) target += "=" + s3::uri_encode(v, true);
        }
    }
    // Two attempts: a kept-alive connection the server closed is reopened
    // once; any other failure is reported.
    for (int attempt = 0; attempt < 2; ++attempt) {
        CLEAVE_RETURN_IF_ERROR(ensure_connected());
        s3::SigV4Request sreq;
        sreq.method = method;
        sreq.raw_path = raw_path;
        sreq.query = query;
        sreq.headers = headers;
        sreq.headers.emplace_back("host", host_ + ":" + port_);
        s3::SignOptions so;
        so.region = config_.region;
        so.now_ms = SystemClock::instance().now_unix_ms();
        auto signature = s3::sign_request(sreq, to_hex(sha256(body)), config_.credentials, so);
        if (!signature.is_ok()) return signature.status();

        http::request<http::string_body> req;
        req.method_string(method);
        req.target(target);
        req.version(11);
        for (const auto& [k, v] : sreq.headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        req.keep_alive(true);

        beast::error_code ec;
        http::write(conn_->stream, req, ec);
        if (ec) {
            conn_->stream.close();
            conn_->open = false;
            if (attempt == 0) continue;
            return Status::unavailable(
                fmt::format("sending {} {}: {}", method, target, ec.message()));
        }
        HttpResponse out;
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(boost::none);
        // A HEAD answer carries the Content-Length of a body that never comes.
        if (method == "HEAD") parser.skip(true);
        http::read_header(conn_->stream, conn_->buffer, parser, ec);
        if (ec) {
            conn_->stream.close();
            conn_->open = false;
            if (attempt == 0 && ec == http::error::end_of_stream) continue;
            return Status::unavailable(
                fmt::format("reading the answer to {} {}: {}", method, target, ec.message()));
        }
        const auto& head = parser.get();
        out.status = head.result_int();
        for (const auto& f : head) out.headers.emplace_back(f.name_string(), f.value());
        uint64_t total = parser.content_length().value_or(0);
        uint64_t done = 0;
        const bool stream_body = sink != nullptr && out.status / 100 == 2;
        Status sink_status;
        char buf[64 * 1024];
        while (!parser.is_done()) {
            parser.get().body().data = buf;
            parser.get().body().size = sizeof buf;
            http::read(conn_->stream, conn_->buffer, parser, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
                conn_->stream.close();
                conn_->open = false;
                return Status::unavailable(
                    fmt::format("reading the body of {} {}: {}", method, target, ec.message()));
            }
            size_t n = sizeof buf - parser.get().body().size;
            if (stream_body) {
                if (sink_status.is_ok()) sink_status = (*sink)(std::string_view(buf, n));
            } else {
                out.body.append(buf, n);
            }
            done += n;
            if (progress && *progress) (*progress)(done, total);
        }
        if (!parser.keep_alive()) {
            conn_->stream.close();
            conn_->open = false;
        }
        CLEAVE_RETURN_IF_ERROR(sink_status);
        return out;
    }
    return Status::unavailable("connection closed");
}

Status S3Client::make_bucket(const std::string& bucket) {
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("PUT", bucket, "", {}, ""));
    return r.status == 200 ? Status::ok() : error_of(r);
}

Status S3Client::remove_bucket(const std::string& bucket) {
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("DELETE", bucket, "", {}, ""));
    return r.status / 100 == 2 ? Status::ok() : error_of(r);
}

Result<std::vector<std::string>> S3Client::list_buckets() {
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("GET", "", "", {}, ""));
    if (r.status != 200) return error_of(r);
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size())) {
        return Status::corruption("unparsable ListAllMyBuckets answer");
    }
    std::vector<std::string> out;
    for (auto b : doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket")) {
        out.push_back(b.child_value("Name"));
    }
    return out;
}

Result<std::vector<ListedEntry>> S3Client::list(const std::string& bucket,
                                                const std::string& prefix,
                                                const std::string& delimiter) {
    std::vector<ListedEntry> out;
    std::string token;
    for (int pages = 0; pages < 1'000'000; ++pages) {
        s3::QueryParams q = {{"list-type", "2"}};
        if (!prefix.empty()) q.emplace_back("prefix", prefix);
        if (!delimiter.empty()) q.emplace_back("delimiter", delimiter);
        if (!token.empty()) q.emplace_back("continuation-token", token);
        CLEAVE_ASSIGN_OR_RETURN(auto r, request("GET", bucket, "", q, ""));
        if (r.status != 200) return error_of(r);
        pugi::xml_document doc;
        if (!doc.load_buffer(r.body.data(), r.body.size())) {
            return Status::corruption("unparsable ListBucketResult answer");
        }
        auto root = doc.child("ListBucketResult");
        for (auto c : root.children("Contents")) {
            ListedEntry e;
            e.key = c.child_value("Key");
            e.size = std::strtoull(c.child_value("Size"), nullptr, 10);
            e.last_modified = c.child_value("LastModified");
            e.etag = c.child_value("ETag");
            out.push_back(std::move(e));
        }
        for (auto c : root.children("CommonPrefixes")) {
            ListedEntry e;
            e.key = c.child_value("Prefix");
            e.is_prefix = true;
            out.push_back(std::move(e));
        }
        if (std::string(root.child_value("IsTruncated")) != "true") break;
        token = root.child_value("NextContinuationToken");
        if (token.empty()) return Status::corruption("truncated listing without a token");
    }
    std::sort(out.begin(), out.end(),
              [](const ListedEntry& a, const ListedEntry& b) { return a.key < b.key; });
    return out;
}

Result<HttpResponse> S3Client::head(const std::string& bucket, const std::string& key) {
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("HEAD", bucket, key, {}, ""));
    if (r.status != 200) {
        if (r.status == 404) {
            return Status::not_found(key.empty()
                                         ? fmt::format("bucket {} not found", bucket)
                                         : fmt::format("s3://{}/{} not found", bucket, key));
        }
        return error_of(r);
    }
    return r;
}

Status S3Client::remove(const std::string& bucket, const std::string& key) {
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("DELETE", bucket, key, {}, ""));
    return r.status / 100 == 2 ? Status::ok() : error_of(r);
}

Result<std::string> S3Client::upload(
    const std::string& bucket, const std::string& key, uint64_t size,
    const std::function<Result<std::string>(uint64_t, size_t)>& read, const ProgressFn& progress) {
    if (size <= config_.multipart_threshold_bytes) {
        CLEAVE_ASSIGN_OR_RETURN(std::string body, read(0, size));
        s3::HeaderList h = {{"content-md5", base64_encode(md5(body))}};
        CLEAVE_ASSIGN_OR_RETURN(auto r, request("PUT", bucket, key, {}, body, h));
        if (r.status != 200) return error_of(r);
        if (progress) progress(size, size);
        const std::string* etag = r.header("ETag");
        return etag ? *etag : std::string();
    }
    CLEAVE_ASSIGN_OR_RETURN(auto created, request("POST", bucket, key, {{"uploads", ""}}, ""));
    if (created.status != 200) return error_of(created);
    pugi::xml_document doc;
    doc.load_buffer(created.body.data(), created.body.size());
    std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id.empty()) return Status::corruption("no UploadId in CreateMultipartUpload answer");
    auto abort = [&] {
        auto r = request("DELETE", bucket, key, {{"uploadId", upload_id}}, "");
        r.status().ignore();  // best effort: the upload failed already
    };
    std::string complete = "<CompleteMultipartUpload>";
    uint64_t done = 0;
    for (uint32_t part = 1; done < size; ++part) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(config_.part_size_bytes, size - done));
        auto body = read(done, n);
        if (!body.is_ok()) {
            abort();
            return body.status();
        }
        s3::HeaderList h = {{"content-md5", base64_encode(md5(*body))}};
        auto r = request("PUT", bucket, key,
                         {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, *body, h);
        if (!r.is_ok() || r->status != 200) {
            abort();
            return r.is_ok() ? error_of(*r) : r.status();
        }
        const std::string* etag = r->header("ETag");
        complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part,
                                etag ? *etag : "");
        done += n;
        if (progress) progress(done, size);
    }
    complete += "</CompleteMultipartUpload>";
    CLEAVE_ASSIGN_OR_RETURN(auto r,
                            request("POST", bucket, key, {{"uploadId", upload_id}}, complete));
    if (r.status != 200) {
        abort();
        return error_of(r);
    }
    pugi::xml_document result;
    if (!result.load_buffer(r.body.data(), r.body.size()) ||
        !result.child("CompleteMultipartUploadResult")) {
        abort();
        return error_of(r);  // S3 may answer 200 with an <Error> body
    }
    return std::string(result.child("CompleteMultipartUploadResult").child_value("ETag"));
}

Result<uint64_t> S3Client::download(const std::string& bucket, const std::string& key,
                                    const SinkFn& sink, const ProgressFn& progress) {
    uint64_t total = 0;
    SinkFn counting = [&](std::string_view data) {
        total += data.size();
        return sink(data);
    };
    CLEAVE_ASSIGN_OR_RETURN(auto r, request("GET", bucket, key, {}, "", {}, &counting, &progress));
    if (r.status != 200) return error_of(r);
    return total;
}

}  // namespace cleave::cli
