#include "multiraft/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hash.h"
#include "multiraft/raft_codec.h"

namespace cleave::multiraft {

namespace {

constexpr std::string_view kMagic = "CVSNAP1\n";

Status errno_status(const std::string& what) {
    return Status::io_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

void put_be(std::string& out, uint64_t v, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint64_t get_be(std::string_view s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_status("write " + path);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::ok();
}

Status fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + dir);
    int rc = ::fsync(fd);
    ::close(fd);
    return rc == 0 ? Status::ok() : errno_status("fsync " + dir);
}

}  // namespace

std::string snapshot_path(const std::string& dir, GroupId group) {
    return fmt::format("{}/snap-{}.bin", dir, group.value());
}

Status write_snapshot_file(const std::string& dir, GroupId group, const raft::Snapshot& snap) {
    // Header, image and checksum are written as they are: the image may be
    // hundreds of MiB, and copying it into one buffer cost more CPU than
    // anything else in a node under small-PUT load (perf).
    std::string head(kMagic);
    const std::string meta = encode_snapshot_meta(snap.meta);
    put_be(head, meta.size(), 4);
    head += meta;
    put_be(head, snap.data.size(), 8);
    std::string tail;
    put_be(tail, crc32c_extend(crc32c(head), snap.data), 4);

    const std::string path = snapshot_path(dir, group);
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("open " + tmp);
    Status s = write_all(fd, head, tmp);
    if (s.is_ok()) s = write_all(fd, snap.data, tmp);
    if (s.is_ok()) s = write_all(fd, tail, tmp);
    if (s.is_ok() && ::fsync(fd) != 0) s = errno_status("fsync " + tmp);
    ::close(fd);
    CLEAVE_RETURN_IF_ERROR(s);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_status("rename " + tmp);
    return fsync_dir(dir);
}

Result<raft::SnapshotPtr> read_snapshot_file(const std::string& dir, GroupId group) {
    const std::string path = snapshot_path(dir, group);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return raft::SnapshotPtr{};
        return errno_status("open " + path);
    }
    std::string in;
    char buf[1 << 16];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Status s = errno_status("read " + path);
            ::close(fd);
            return s;
        }
        if (n == 0) break;
        in.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    auto bad = [&](std::string_view why) {
        return Status(Errc::corruption, fmt::format("snapshot file {}: {}", path, why));
    };
    if (in.size() < kMagic.size() + 4 + 8 + 4 || in.compare(0, kMagic.size(), kMagic) != 0)
        return bad("bad header");
    const std::string_view body(in.data(), in.size() - 4);
    if (crc32c(body) != get_be(std::string_view(in).substr(in.size() - 4), 4))
        return bad("checksum mismatch");
    size_t pos = kMagic.size();
    const uint64_t meta_len = get_be(std::string_view(in).substr(pos, 4), 4);
    pos += 4;
    if (pos + meta_len + 8 > body.size()) return bad("truncated meta");
    auto meta = decode_snapshot_meta(std::string_view(in).substr(pos, meta_len));
    if (!meta.is_ok()) return bad(meta.status().message());
    pos += meta_len;
    const uint64_t data_len = get_be(std::string_view(in).substr(pos, 8), 8);
    pos += 8;
    if (pos + data_len != body.size()) return bad("truncated data");
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta = std::move(*meta);
    snap->data = in.substr(pos, data_len);
    return raft::SnapshotPtr(std::move(snap));
}

}  // namespace cleave::multiraft
