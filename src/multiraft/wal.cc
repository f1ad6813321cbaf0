#include "multiraft/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/hash.h"
#include "common/logging.h"

namespace cleave::multiraft {

namespace {

constexpr size_t kHeaderBytes = 8;         // length + crc
constexpr size_t kFixedBodyBytes = 1 + 8;  // kind + group
constexpr uint32_t kMaxRecordBytes = 64u << 20;

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("wal");
    return l;
}

void put_u32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint64_t get_u(std::string_view s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

Status errno_status(const std::string& what) {
    return Status::io_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

std::string segment_name(uint64_t first_lsn) { return fmt::format("wal-{:012}.log", first_lsn); }

Result<std::string> read_all(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + path);
    std::string out;
    char buf[1 << 16];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            Status s = errno_status("read " + path);
            ::close(fd);
            return s;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

Status sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open dir " + dir);
    int rc = ::fsync(fd);
    ::close(fd);
    return rc == 0 ? Status::ok() : errno_status("fsync dir " + dir);
}

}  // namespace

Wal::Wal(std::string dir, WalOptions options) : dir_(std::move(dir)), options_(options) {}

Wal::~Wal() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Wal>> Wal::open(
    const std::string& dir, WalOptions options,
    const std::function<void(uint64_t, const WalRecord&)>& replay) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno_status("mkdir " + dir);
    auto wal = std::unique_ptr<Wal>(new Wal(dir, options));

    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno_status("opendir " + dir);
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        uint64_t first = 0;
        if (name.size() == 20 && name.rfind("wal-", 0) == 0 && name.substr(16) == ".log" &&
            std::all_of(name.begin() + 4, name.begin() + 16, ::isdigit)) {
            first = std::stoull(name.substr(4, 12));
            wal->segments_.push_back({first, dir + "/" + name});
        }
    }
    ::closedir(d);
    std::sort(wal->segments_.begin(), wal->segments_.end(),
              [](const Segment& a, const Segment& b) { return a.first_lsn < b.first_lsn; });

    uint64_t lsn = 0;
    for (size_t i = 0; i < wal->segments_.size(); ++i) {
        const Segment& seg = wal->segments_[i];
        const bool last = i + 1 == wal->segments_.size();
        if (lsn != 0 && seg.first_lsn != lsn + 1) {
            return Status::corruption(fmt::format("WAL segment {} starts at LSN {}, expected {}",
                                                  seg.path, seg.first_lsn, lsn + 1));
        }
        lsn = seg.first_lsn - 1;
        CLEAVE_ASSIGN_OR_RETURN(std::string data, read_all(seg.path));
        size_t off = 0;
        while (off < data.size()) {
            std::string_view rest = std::string_view(data).substr(off);
            bool whole = rest.size() >= kHeaderBytes;
            uint32_t length = whole ? static_cast<uint32_t>(get_u(rest, 4)) : 0;
            whole = whole && length >= kFixedBodyBytes && length <= kMaxRecordBytes &&
                    rest.size() >= kHeaderBytes + length;
            std::string_view body = whole ? rest.substr(kHeaderBytes, length) : std::string_view{};
            whole = whole && crc32c(body) == static_cast<uint32_t>(get_u(rest.substr(4), 4));
            if (!whole) {
                if (!last) {
                    return Status::corruption(
                        fmt::format("WAL segment {} has a bad record at offset {} (not the tail)",
                                    seg.path, off));
                }
                // A torn tail: cut it.
                log()->warn("WAL {}: cutting a torn tail of {} bytes at offset {}", seg.path,
                            data.size() - off, off);
                if (::truncate(seg.path.c_str(), static_cast<off_t>(off)) != 0) {
                    return errno_status("truncate " + seg.path);
                }
                break;
            }
            WalRecord r;
            r.kind = static_cast<uint8_t>(body[0]);
            r.group = get_u(body.substr(1), 8);
            r.payload = std::string(body.substr(kFixedBodyBytes));
            replay(++lsn, r);
            off += kHeaderBytes + length;
        }
        if (last) wal->segment_size_ = off;
    }
    wal->last_lsn_ = lsn;

    if (wal->segments_.empty()) {
        CLEAVE_RETURN_IF_ERROR(wal->open_new_segment());
    } else {
        const std::string& path = wal->segments_.back().path;
        wal->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (wal->fd_ < 0) return errno_status("open " + path);
    }
    return wal;
}

Status Wal::open_new_segment() {
    if (fd_ >= 0) {
        // Records after the closed segment's unsynced tail must never be
        // durable without it (recovery cuts a torn tail only in the last
        // segment).
        if (unsynced_ && options_.sync) {
            if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + segments_.back().path);
            syncs_.fetch_add(1, std::memory_order_relaxed);
        }
        unsynced_ = false;
        ::close(fd_);
        fd_ = -1;
    }
    Segment seg{last_lsn_ + 1, dir_ + "/" + segment_name(last_lsn_ + 1)};
    fd_ = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return errno_status("create " + seg.path);
    // The new file must survive a crash before records in it are acknowledged.
    CLEAVE_RETURN_IF_ERROR(sync_dir(dir_));
    segments_.push_back(std::move(seg));
    segment_size_ = 0;
    return Status::ok();
}

Result<uint64_t> Wal::append(const std::vector<WalRecord>& records, bool sync) {
    if (!failed_.is_ok()) return failed_;
    if (records.empty()) return last_lsn_;
    if (segment_size_ >= options_.segment_bytes) {
        failed_ = open_new_segment();
        if (!failed_.is_ok()) return failed_;
    }
    std::string buf;
    for (const auto& r : records) {
        std::string body;
        body.reserve(kFixedBodyBytes + r.payload.size());
        body.push_back(static_cast<char>(r.kind));
        put_u64(body, r.group);
        body.append(r.payload);
        CLEAVE_ASSERT(body.size() <= kMaxRecordBytes, "WAL record of {} bytes", body.size());
        put_u32(buf, static_cast<uint32_t>(body.size()));
        put_u32(buf, crc32c(body));
        buf.append(body);
    }
    size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::write(fd_, buf.data() + done, buf.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed_ = errno_status("write " + segments_.back().path);
            return failed_;
        }
        done += static_cast<size_t>(n);
    }
    if (!sync) {
        unsynced_ = true;
    } else if (options_.sync) {
        if (::fdatasync(fd_) != 0) {
            // After a failed fsync the page cache state is unknown (the
            // "fsyncgate" lesson): never retry, stop.
            failed_ = errno_status("fdatasync " + segments_.back().path);
            return failed_;
        }
        syncs_.fetch_add(1, std::memory_order_relaxed);
        unsynced_ = false;
    }
    segment_size_ += buf.size();
    last_lsn_ += records.size();
    return last_lsn_;
}

Status Wal::release_before(uint64_t lsn) {
    // A closed segment i holds [first_i, first_{i+1}); it can go when
    // first_{i+1} <= lsn. The open segment always stays.
    size_t drop = 0;
    while (drop + 1 < segments_.size() && segments_[drop + 1].first_lsn <= lsn) ++drop;
    for (size_t i = 0; i < drop; ++i) {
        if (::unlink(segments_[i].path.c_str()) != 0 && errno != ENOENT) {
            return errno_status("unlink " + segments_[i].path);
        }
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<long>(drop));
    return drop ? sync_dir(dir_) : Status::ok();
}

}  // namespace cleave::multiraft
