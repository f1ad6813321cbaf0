#pragma once
// The command log: every command is appended here, durably, before it is
// applied. This is the seam where a shard's Raft log takes over in a cluster
// (the Raft log is a command log whose appends are replicated); the state
// machine and the S3 layer do not change.
//
// Threading: append/read/compact are serialised by the owner (the apply loop).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/engine.h"

namespace cleave::shard {

struct LogEntry {
    uint64_t index = 0;
    std::string payload;  // a serialised Command
};

class CommandLog {
  public:
    virtual ~CommandLog() = default;
    // Appends entries (consecutive indexes following last_index()) and makes
    // them durable before returning: one sync for the whole group.
    virtual Status append(const std::vector<LogEntry>& entries) = 0;
    // Entries with index in [from, last_index()], at most `max`.
    virtual Result<std::vector<LogEntry>> read(uint64_t from, size_t max) = 0;
    // Drops entries with index <= upto (they are applied and durable).
    virtual Status compact(uint64_t upto) = 0;
    virtual uint64_t last_index() const = 0;
    virtual uint64_t first_index() const = 0;
};

// A command log kept in the engine under the 'l' family (record_keys.h).
class EngineCommandLog final : public CommandLog {
  public:
    // Opens the log, finding its first and last index.
    static Result<std::unique_ptr<EngineCommandLog>> open(storage::Engine& engine);

    Status append(const std::vector<LogEntry>& entries) override;
    Result<std::vector<LogEntry>> read(uint64_t from, size_t max) override;
    Status compact(uint64_t upto) override;
    uint64_t last_index() const override { return last_index_; }
    uint64_t first_index() const override { return first_index_; }

  private:
    explicit EngineCommandLog(storage::Engine& engine) : engine_(engine) {}

    storage::Engine& engine_;
    uint64_t first_index_ = 1;  // first retained index (last_index_+1 when empty)
    uint64_t last_index_ = 0;
};

}  // namespace cleave::shard
