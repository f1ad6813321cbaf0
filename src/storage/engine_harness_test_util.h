#pragma once
// Test support: how the conformance suite opens, reopens and checkpoints each
// engine kind. Built into storage_test only.

#include <memory>
#include <string>

#include "storage/engine.h"

namespace cleave::storage {

// A private temporary directory, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

class EngineHarness {
  public:
    virtual ~EngineHarness() = default;
    // A new engine on this harness's storage (what was written and synced by
    // earlier engines is there). The previous engine has been destroyed.
    // Fails the current test (and returns null) if the engine does not open.
    virtual std::unique_ptr<Engine> open() = 0;
    // Opens what Engine::checkpoint(dir) wrote.
    virtual std::unique_ptr<Engine> open_checkpoint(const std::string& dir) = 0;
    // Whether an iterator without a snapshot is a consistent view as of its
    // creation (see IteratorSeesStateAtCreation).
    virtual bool iterators_are_snapshots() const { return true; }
    // A directory for the test's own files, removed with the harness.
    const std::string& scratch_dir() const { return scratch_.path(); }

  private:
    TempDir scratch_;
};

std::unique_ptr<EngineHarness> make_memory_harness();
std::unique_ptr<EngineHarness> make_rocksdb_harness();
// Starts a private redis-server; null (the suite skips) if it is not installed.
std::unique_ptr<EngineHarness> make_redis_harness();

}  // namespace cleave::storage
