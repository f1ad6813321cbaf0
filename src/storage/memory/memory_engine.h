#pragma once
// An in-memory Engine for tests, with power-loss simulation in the spirit of
// RocksDB's FaultInjectionFS.
//
// The state lives in a MemoryDisk, which outlives any one MemoryEngine: a test
// closes (destroys) an engine and opens a new one on the same disk to check
// "reopen keeps everything". Closing is a clean shutdown, like a process exit
// on a real machine: nothing is lost. MemoryDisk::drop_unsynced() is a power
// loss: every batch written since the last sync disappears, whole batches
// only, never a torn one.
//
// Snapshots and iterators share the current map by pointer (copy on write):
// the first write after a snapshot or iterator was taken copies the map, so a
// write costs O(n) right after a snapshot and O(log n) otherwise. Fine for
// tests, not for production data sizes.
//
// checkpoint(dir) writes the whole map as a portable dump (storage/dump.h);
// MemoryEngine::open_checkpoint(dir), or open_engine({.kind = "memory",
// .path = dir}), loads it into a fresh disk.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace cleave::storage {

class MemoryDisk {
  public:
    MemoryDisk();
    MemoryDisk(const MemoryDisk&) = delete;
    MemoryDisk& operator=(const MemoryDisk&) = delete;

    // Power loss: forgets every batch written since the last sync (a sync()
    // call or a write with sync = true, which also makes every earlier write
    // durable, as a WAL fsync does). Safe to call with or without an engine
    // open on the disk.
    void drop_unsynced();
    // Number of batches that drop_unsynced() would lose now.
    size_t unsynced_batches() const;
    // While set, every write and sync fails with io_error and changes nothing
    // (a failing disk). Reads keep working.
    void set_fail_writes(bool fail);

  private:
    friend class MemoryEngine;
    using Map = std::map<std::string, std::string, std::less<>>;

    mutable std::mutex mu_;
    // The latest state. Shared with snapshots and iterators; never changed
    // while shared (copied first), so readers need no lock.
    std::shared_ptr<Map> live_;
    // The state as of the last sync: what survives a power loss.
    Map durable_;
    // Batches applied to live_ but not yet to durable_, oldest first.
    std::vector<WriteBatch> unsynced_;
    bool fail_writes_ = false;
};

class MemoryEngine final : public Engine {
  public:
    // An engine over `disk` (which must not be null). Several engines may be
    // open on one disk, though tests normally open one at a time.
    explicit MemoryEngine(std::shared_ptr<MemoryDisk> disk);
    // A fresh engine on its own new disk.
    MemoryEngine();

    // Loads a checkpoint written by checkpoint() into a fresh disk.
    static Result<std::unique_ptr<MemoryEngine>> open_checkpoint(const std::string& dir);

    Result<std::optional<std::string>> get(std::string_view key,
                                           const Snapshot* snapshot = nullptr) override;
    Status write(const WriteBatch& batch, const WriteOptions& options = {}) override;
    std::unique_ptr<Iterator> iterate(const IterOptions& options) override;
    std::unique_ptr<Snapshot> snapshot() override;
    Status sync() override;
    Status checkpoint(const std::string& dir) override;
    Result<uint64_t> approximate_size(std::string_view begin, std::string_view end) override;
    std::string_view name() const override { return "memory"; }

    const std::shared_ptr<MemoryDisk>& disk() const { return disk_; }

  private:
    std::shared_ptr<const MemoryDisk::Map> current() const;

    const std::shared_ptr<MemoryDisk> disk_;
};

}  // namespace cleave::storage
