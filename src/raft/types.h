#pragma once
// Plain value types of the Raft core: log entries, hard state, snapshots and
// read states. They are plain structs on purpose: the network layer encodes
// them (protobuf) and the host persists them; the core never serialises.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/strong_id.h"
#include "raft/config.h"

namespace cleave::raft {

enum class EntryType : uint8_t {
    command,        // an opaque client command for the state machine
    noop,           // the blank entry a new leader appends (dissertation 6.4)
    configuration,  // a membership change (dissertation 4.3)
};

struct Entry {
    Term term;
    Index index;
    EntryType type = EntryType::command;
    std::string data;      // command bytes; empty for noop and configuration
    Configuration config;  // only for EntryType::configuration
    bool operator==(const Entry&) const = default;
};

// State that must be durable before any message depending on it is sent
// (dissertation 3.8, figure 3.1 "persistent state on all servers").
struct HardState {
    Term term;
    NodeId vote;   // NodeId{} means "no vote in this term"
    Index commit;  // not required for safety; saves re-discovery after restart
    bool operator==(const HardState&) const = default;
};

struct SnapshotMeta {
    Index index;           // last index covered by the snapshot
    Term term;             // term of that entry
    Configuration config;  // latest configuration at or before index (4.3 + 5.1)
    bool operator==(const SnapshotMeta&) const = default;
};

// A state machine image at meta.index. Immutable once built, so it is shared
// between the log and the messages that carry it.
struct Snapshot {
    SnapshotMeta meta;
    std::string data;  // opaque state machine bytes
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// A ReadIndex answer (dissertation 6.4): the read `request_id` may be served
// once the local state machine has applied `index`.
struct ReadState {
    uint64_t request_id = 0;
    Index index;
    bool operator==(const ReadState&) const = default;
};

// What a host loads from its storage to (re)start a replica.
struct PersistentState {
    HardState hard_state;
    SnapshotPtr snapshot;        // may be null: an empty snapshot at index 0
    std::vector<Entry> entries;  // contiguous, starting right after snapshot->meta.index
};

}  // namespace cleave::raft
