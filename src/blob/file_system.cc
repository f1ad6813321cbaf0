// The one file of POSIX calls behind FileSystem.
#include "blob/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace cleave::blob {

namespace {

Status errno_status(std::string_view what, const std::string& path, int err) {
    std::string msg = fmt::format("{} {}: {}", what, path, std::strerror(err));
    if (err == ENOENT) return Status::not_found(std::move(msg));
    if (err == EEXIST) return Status::already_exists(std::move(msg));
    return Status::io_error(std::move(msg));
}

// Closes a descriptor on every path out of a function.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    // Closes now and reports the error close() saw (it can report a failed
    // write-back on some filesystems).
    int close() {
        int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

  private:
    int fd_;
};

int64_t to_ms(const struct timespec& ts) {
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string parent_of(const std::string& path) {
    auto pos = path.find_last_of('/');
    if (pos == std::string::npos) return ".";
    if (pos == 0) return "/";
    return path.substr(0, pos);
}

class PosixFileSystem final : public FileSystem {
  public:
    Status create_dirs(const std::string& path) override {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            if (S_ISDIR(st.st_mode)) return Status::ok();
            return Status::io_error(fmt::format("{} exists and is not a directory", path));
        }
        const std::string parent = parent_of(path);
        if (parent != path) CLEAVE_RETURN_IF_ERROR(create_dirs(parent));
        if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
            return errno_status("mkdir", path, errno);
        }
        return sync_dir(parent);
    }

    Status write_new_file_synced(const std::string& path, std::string_view data) override {
        Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (fd.get() < 0) return errno_status("create", path, errno);
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno_status("write", path, errno);
            }
            off += static_cast<size_t>(n);
        }
        if (::fsync(fd.get()) != 0) return errno_status("fsync", path, errno);
        if (fd.close() != 0) return errno_status("close", path, errno);
        return Status::ok();
    }

    Result<std::string> read_file(const std::string& path, uint64_t max_bytes) override {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) return errno_status("open", path, errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return errno_status("fstat", path, errno);
        if (static_cast<uint64_t>(st.st_size) > max_bytes) {
            return Status(Errc::too_large, fmt::format("{} holds {} bytes, more than {}", path,
                                                       st.st_size, max_bytes));
        }
        std::string out(static_cast<size_t>(st.st_size), '\0');
        size_t off = 0;
        while (off < out.size()) {
            ssize_t n = ::read(fd.get(), out.data() + off, out.size() - off);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno_status("read", path, errno);
            }
            if (n == 0) break;  // shrank under us: return what is there
            off += static_cast<size_t>(n);
        }
        out.resize(off);
        return out;
    }

    Status rename(const std::string& from, const std::string& to) override {
        if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from, errno);
        return Status::ok();
    }

    Status sync_dir(const std::string& path) override {
        Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (fd.get() < 0) return errno_status("open directory", path, errno);
        if (::fsync(fd.get()) != 0) return errno_status("fsync directory", path, errno);
        return Status::ok();
    }

    Status remove(const std::string& path) override {
        if (::unlink(path.c_str()) != 0) return errno_status("unlink", path, errno);
        return Status::ok();
    }

    Result<FileInfo> stat(const std::string& path) override {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
        return FileInfo{.size_bytes = static_cast<uint64_t>(st.st_size),
                        .mtime_ms = to_ms(st.st_mtim),
                        .is_dir = S_ISDIR(st.st_mode)};
    }

    Status touch(const std::string& path) override {
        if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) {
            return errno_status("touch", path, errno);
        }
        return Status::ok();
    }

    Result<std::vector<DirEntry>> list_dir(const std::string& path) override {
        DIR* d = ::opendir(path.c_str());
        if (d == nullptr) return errno_status("opendir", path, errno);
        std::vector<DirEntry> out;
        errno = 0;
        while (struct dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            bool is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_UNKNOWN) {
                struct stat st {};
                is_dir = ::stat((path + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            }
            out.push_back({std::move(name), is_dir});
            errno = 0;
        }
        const int err = errno;
        ::closedir(d);
        if (err != 0) return errno_status("readdir", path, err);
        return out;
    }
};

}  // namespace

FileSystem& posix_file_system() {
    static PosixFileSystem fs;
    return fs;
}

}  // namespace cleave::blob
