#pragma once
// A FileSystem wrapper that fails chosen calls and can rot data on read, for
// tests of the chunk store's error paths (in the spirit of RocksDB's
// FaultInjectionTestFS). Thread-safe.

#include <array>
#include <mutex>

#include "blob/file_system.h"

namespace cleave::blob {

class FaultInjectingFileSystem final : public FileSystem {
  public:
    enum class Op : uint8_t {
        create_dirs,
        write,
        read,
        rename,
        sync_dir,
        remove,
        stat,
        touch,
        list_dir,
        count_,  // not an op
    };

    // `base` must outlive this object.
    explicit FaultInjectingFileSystem(FileSystem& base) : base_(base) {}

    // After `skip` more successful calls of `op`, the next `count` calls fail
    // with io_error. A failed write leaves half of the data in a new file (a
    // torn write, as after ENOSPC); every other failed call changes nothing.
    void fail(Op op, int count = 1, int skip = 0);
    // While on, read_file returns the data with one bit flipped in the middle.
    void set_corrupt_reads(bool on);
    // Calls of `op` so far, failed ones included.
    int calls(Op op) const;

    Status create_dirs(const std::string& path) override;
    Status write_new_file_synced(const std::string& path, std::string_view data) override;
    Result<std::string> read_file(const std::string& path, uint64_t max_bytes) override;
    Status rename(const std::string& from, const std::string& to) override;
    Status sync_dir(const std::string& path) override;
    Status remove(const std::string& path) override;
    Result<FileInfo> stat(const std::string& path) override;
    Status touch(const std::string& path) override;
    Result<std::vector<DirEntry>> list_dir(const std::string& path) override;

  private:
    struct Plan {
        int skip = 0;
        int fail = 0;
        int calls = 0;
    };
    // Counts the call; true if it must fail.
    bool should_fail(Op op);

    FileSystem& base_;
    mutable std::mutex mu_;
    std::array<Plan, static_cast<size_t>(Op::count_)> plans_{};  // guarded by mu_
    bool corrupt_reads_ = false;                                 // guarded by mu_
};

}  // namespace cleave::blob
