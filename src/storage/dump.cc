#include "storage/dump.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::storage {

namespace {

constexpr std::string_view kMagic = "CLEAVE-DUMP-1\n";
constexpr size_t kMaxFieldBytes = 1u << 30;  // sanity bound on one key or value

Status errno_status(std::string_view what, const std::string& path) {
    return Status::io_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const char* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
    return v;
}

struct FileCloser {
    void operator()(std::FILE* f) const {
        if (f) std::fclose(f);
    }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Status sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open", dir);
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return errno_status("fsync", dir);
    return Status::ok();
}

}  // namespace

Status write_dump(Iterator& it, const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
        if (errno == EEXIST) return Status::already_exists("checkpoint directory exists: " + dir);
        return errno_status("mkdir", dir);
    }
    const std::string path = dir + "/" + std::string(kDumpFileName);
    File f(std::fopen(path.c_str(), "wbx"));
    if (!f) return errno_status("create", path);
    auto emit = [&](const std::string& bytes) -> Status {
        if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
            return errno_status("write", path);
        }
        return Status::ok();
    };
    CLEAVE_RETURN_IF_ERROR(emit(std::string(kMagic)));
    uint64_t count = 0;
    std::string rec;
    for (it.seek_to_first(); it.valid(); it.next()) {
        rec.clear();
        rec.push_back('R');
        put_u32(rec, static_cast<uint32_t>(it.key().size()));
        rec.append(it.key());
        put_u32(rec, static_cast<uint32_t>(it.value().size()));
        rec.append(it.value());
        put_u32(rec, crc32c(rec));
        CLEAVE_RETURN_IF_ERROR(emit(rec));
        ++count;
    }
    CLEAVE_RETURN_IF_ERROR(it.status());
    rec.clear();
    rec.push_back('E');
    put_u64(rec, count);
    put_u32(rec, crc32c(rec));
    CLEAVE_RETURN_IF_ERROR(emit(rec));
    if (std::fflush(f.get()) != 0) return errno_status("flush", path);
    if (::fsync(::fileno(f.get())) != 0) return errno_status("fsync", path);
    if (std::fclose(f.release()) != 0) return errno_status("close", path);
    return sync_dir(dir);
}

Status read_dump(const std::string& dir,
                 const std::function<Status(std::string_view, std::string_view)>& sink) {
    const std::string path = dir + "/" + std::string(kDumpFileName);
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        if (errno == ENOENT) return Status::not_found("no engine dump at " + path);
        return errno_status("open", path);
    }
    auto corrupt = [&](std::string_view why) {
        return Status::corruption(fmt::format("engine dump {}: {}", path, why));
    };
    auto read_exact = [&](std::string& out, size_t n) {
        const size_t old = out.size();
        out.resize(old + n);
        return std::fread(out.data() + old, 1, n, f.get()) == n;
    };
    std::string buf;
    if (!read_exact(buf, kMagic.size()) || buf != kMagic) return corrupt("bad header");
    uint64_t count = 0;
    for (;;) {
        buf.clear();
        if (!read_exact(buf, 1)) return corrupt("truncated (no trailer)");
        if (buf[0] == 'E') {
            if (!read_exact(buf, 8)) return corrupt("truncated trailer");
            const uint32_t want = crc32c(buf);
            std::string crc;
            if (!read_exact(crc, 4) || get_le(crc.data(), 4) != want) return corrupt("bad trailer");
            if (get_le(buf.data() + 1, 8) != count) return corrupt("record count mismatch");
            if (std::fgetc(f.get()) != EOF) return corrupt("bytes after the trailer");
            return Status::ok();
        }
        if (buf[0] != 'R') return corrupt("bad record tag");
        if (!read_exact(buf, 4)) return corrupt("truncated record");
        const size_t klen = get_le(buf.data() + 1, 4);
        if (klen > kMaxFieldBytes || !read_exact(buf, klen + 4)) return corrupt("truncated key");
        const size_t vlen = get_le(buf.data() + 5 + klen, 4);
        if (vlen > kMaxFieldBytes || !read_exact(buf, vlen)) return corrupt("truncated value");
        const uint32_t want = crc32c(buf);
        std::string crc;
        if (!read_exact(crc, 4) || get_le(crc.data(), 4) != want) return corrupt("bad record crc");
        ++count;
        CLEAVE_RETURN_IF_ERROR(sink(std::string_view(buf).substr(5, klen),
                                    std::string_view(buf).substr(9 + klen, vlen)));
    }
}

Status load_dump(const std::string& dir, Engine& engine) {
    WriteBatch batch;
    CLEAVE_RETURN_IF_ERROR(read_dump(dir, [&](std::string_view k, std::string_view v) {
        batch.put(k, v);
        if (batch.size_bytes() < (4u << 20)) return Status::ok();
        Status s = engine.write(batch, {.sync = false});
        batch.clear();
        return s;
    }));
    if (!batch.empty()) CLEAVE_RETURN_IF_ERROR(engine.write(batch, {.sync = false}));
    return engine.sync();
}

}  // namespace cleave::storage
