#pragma once
// SplitHost: what a shard's state machine needs from the node to apply a
// Split (commands.proto): an engine for the new shard. The state machine
// stays free of I/O policy (where engines live, how they are opened); the
// host owns the child engines and knows which already exist.
//
// Crash safety. The state machine applies Split at index i as
//
//   1. create_child(child, parent)  -> a copy of the parent as of index i-1
//   2. one batch into the child: its range, the lower half dropped, log and
//      applied index reset; child.sync()
//   3. child_ready(child)           -> the child may serve
//   4. the parent's batch: its range, the upper half dropped, applied index i
//
// A crash anywhere before 4 replays Split at i on the parent. If it came
// after 3, create_child returns nullptr (the child exists, may have applied
// commands of its own since, and must not be touched): only the parent is
// cut. If it came before 3, the host discards the incomplete child and makes
// a fresh copy: a child never reported ready holds nothing of its own.
//
// Threading: called from the parent's apply loop only.

#include <cstdint>

#include <memory>
#include <string>
#include "common/status.h"

#include "storage/engine.h"
#include "storage/open_engine.h"

namespace cleave::shard {

class SplitHost {
  public:
    virtual ~SplitHost() = default;

    // The engine of shard `child`, holding a copy (e.g. a RocksDB checkpoint:
    // hard links, no copy of data) of `parent` as it is at this moment (every
    // write so far, synced or not) — or nullptr when the child already exists
    // because an earlier application of this same Split completed it (reported
    // child_ready) before a crash; then only the parent is cut. The engine
    // stays owned by the host and outlives the call. An error stops the
    // parent's apply loop (the split is retried on replay).
    virtual Result<storage::Engine*> create_child(uint64_t child, storage::Engine& parent) = 0;

    // The child's initial state is written and synced: it may start serving.
    // An error stops the parent's apply loop, as above.
    virtual Status child_ready(uint64_t child) = 0;

    // The applied index a child starts at. A Raft host answers 1: its
    // child's group starts from a snapshot of the inherited state at that
    // index (multiraft::Host::BaseState), so the child's own log begins
    // after it. 0 for a host whose log starts the child at 1.
    virtual uint64_t child_base_index() const { return 0; }
};

// What both hosts' create_child does: a fresh checkpoint of `parent` in
// `dir` (whatever an unfinished earlier copy left there is removed first,
// under `remove`, the child's own directory), opened with `options`.
Result<std::unique_ptr<storage::Engine>> copy_engine(storage::Engine& parent,
                                                     const std::string& remove,
                                                     const std::string& dir,
                                                     storage::EngineOptions options);

}  // namespace cleave::shard
