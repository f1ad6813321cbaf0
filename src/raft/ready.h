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
//
// Asynchronous persistence (RaftOptions::async_persist; Raft thesis 10.2.1,
// etcd's async storage writes): the host hands 1-3 to a writer and calls
// advance() at once, so the core keeps taking messages while the write runs.
// Then:
//   - messages that vouch for durable state (acknowledgements, votes,
//     anything after a term or vote change) wait until the write, and every
//     write handed off before it, is durable; a leader's appends and
//     heartbeats may leave at once
//     (may_precede_persistence, Ready::term_or_vote_changed);
//   - once durable, the host calls Fsm::persisted(ready.persist_mark()): the
//     entries then count as this replica's copy (a leader counts itself
//     towards a commit only from then on);
//   - `committed` holds only entries already durable here.
// Writes must become durable in the order they were handed off.

#include <optional>
#include <vector>

#include "raft/messages.h"
#include "raft/types.h"

namespace cleave::raft {

// What the host reports back with Fsm::persisted once a Ready's entries are
// durable (asynchronous persistence).
struct PersistMark {
    uint64_t log_generation = 0;
    Index index;  // the Ready's last entry
    Term term;
};

struct Ready {
    SnapshotPtr snapshot;
    std::vector<Entry> entries;
    std::optional<HardState> hard_state;
    std::vector<Message> messages;
    std::vector<Entry> committed;
    std::vector<ReadState> read_states;
    std::optional<Index> snapshot_due;  // a hint, see RaftOptions::snapshot_threshold_entries
    uint64_t log_generation = 0;        // of the log the entries were cut from
    // hard_state changes the term or the vote: nothing may be sent before it
    // is durable (asynchronous persistence).
    bool term_or_vote_changed = false;

    // Nullopt without entries.
    std::optional<PersistMark> persist_mark() const {
        if (entries.empty()) return std::nullopt;
        return PersistMark{log_generation, entries.back().index, entries.back().term};
    }

    bool empty() const {
        return !snapshot && entries.empty() && !hard_state && messages.empty() &&
               committed.empty() && read_states.empty();
    }
};

}  // namespace cleave::raft
