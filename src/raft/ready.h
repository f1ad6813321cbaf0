#pragma once
// The one output batch of the core (the ScyllaDB fsm "output", etcd's Ready).
// The host processes it in this order, then calls Fsm::advance(ready):
//
//   1. snapshot      install into the state machine and persist it
//   2. entries       persist, first truncating the stored log at
//                    entries.front().index (a conflict may rewrite a suffix)
//   3. hard_state    persist; then sync (fsync) all of 1-3
//   4. messages      send — only after the sync: a vote or an acknowledgement
//                    must never be sent for something that is not durable
//   5. committed     apply in order
//   6. read_states   serve each read once applied >= its index
//   7. snapshot_due  if set, after advance(): serialise the state machine
//                    (applied == *snapshot_due) and call take_snapshot()
//
// No other Fsm call may happen between get_ready() and advance().

#include <optional>
#include <vector>

#include "raft/messages.h"
#include "raft/types.h"

namespace cleave::raft {

struct Ready {
    SnapshotPtr snapshot;
    std::vector<Entry> entries;
    std::optional<HardState> hard_state;
    std::vector<Message> messages;
    std::vector<Entry> committed;
    std::vector<ReadState> read_states;
    std::optional<Index> snapshot_due;  // a hint, see RaftOptions::snapshot_threshold_entries

    bool empty() const {
        return !snapshot && entries.empty() && !hard_state && messages.empty() &&
               committed.empty() && read_states.empty();
    }
};

}  // namespace cleave::raft
