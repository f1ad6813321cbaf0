#pragma once
// The embedded default Engine, on RocksDB (Debian's librocksdb). This
// directory is the only place in Cleave that includes <rocksdb/...>; the
// header keeps RocksDB out of its includers.

#include <memory>
#include <string>

#include "storage/engine.h"

namespace cleave::storage {

struct RocksDbOptions {
    std::string path;                          // database directory
    uint64_t block_cache_bytes = 64ull << 20;  // shared LRU block cache
};

class RocksDbEngine final : public Engine {
  public:
    // Opens the database at options.path, creating it if missing. A database
    // can be open in at most one engine at a time (RocksDB's LOCK file):
    // destroy the engine before reopening. Errors: io_error (including "lock
    // held"), corruption.
    static Result<std::unique_ptr<RocksDbEngine>> open(const RocksDbOptions& options);
    ~RocksDbEngine() override;

    Result<std::optional<std::string>> get(std::string_view key,
                                           const Snapshot* snapshot = nullptr) override;
    Status write(const WriteBatch& batch, const WriteOptions& options = {}) override;
    std::unique_ptr<Iterator> iterate(const IterOptions& options) override;
    std::unique_ptr<Snapshot> snapshot() override;
    Status sync() override;
    // A RocksDB checkpoint (hard links where possible): open it with open().
    Status checkpoint(const std::string& dir) override;
    Result<uint64_t> approximate_size(std::string_view begin, std::string_view end) override;
    std::string_view name() const override { return "rocksdb"; }

    struct Impl;

  private:
    explicit RocksDbEngine(std::unique_ptr<Impl> impl);
    const std::unique_ptr<Impl> impl_;
};

}  // namespace cleave::storage
