#pragma once
// What a leader knows about one follower's log, and the flow control of the
// appends it sends it (dissertation 3.5 and 10.2.1):
//
//   probe      one append in flight at a time, until the follower's match is
//              found (backtracking on rejection with the follower's hint);
//   replicate  pipelined: entries are sent optimistically, next moves ahead
//              of match, at most max_inflight appends outstanding;
//   snapshot   the follower needs a snapshot; nothing else is sent until it
//              answers or the send times out.

#include <cstdint>
#include <deque>

#include "common/strong_id.h"

namespace cleave::raft {

class Progress {
  public:
    enum class State : uint8_t { probe, replicate, snapshot };

    Progress(Index next, uint32_t max_inflight) : next_(next), max_inflight_(max_inflight) {}

    State state() const { return state_; }
    Index match() const { return match_; }
    Index next() const { return next_; }
    Index pending_snapshot() const { return pending_snapshot_; }
    size_t inflight() const { return inflight_.size(); }

    void become_probe();
    void become_replicate();
    void become_snapshot(Index snapshot_index);

    // The follower acknowledged entries up to n. Returns whether match grew.
    bool maybe_update(Index n);
    // The follower rejected an append whose previous index was `rejected`;
    // `hint` is where to probe next. Returns false for a stale rejection.
    bool maybe_decrease_to(Index rejected, Index hint);
    // Records an append of entries ending at `last` (count = number sent).
    void sent_entries(Index last, size_t count);
    // Probe state: an empty/single probe went out.
    void sent_probe() { probe_sent_ = true; }
    // No append may be sent now.
    bool is_paused() const;
    // A heartbeat response arrived: unblock a probe lost to the network and,
    // in replicate state, report whether replication stalled since the last
    // heartbeat response (then the caller falls back to probing).
    bool on_heartbeat_response(Index leader_last);
    // Snapshot state: ticks without an answer; true when the send timed out.
    bool tick_snapshot(uint32_t timeout_ticks);

    bool recent_active = false;  // heard from in this check-quorum period (6.2)
    uint64_t acked_round = 0;    // highest heartbeat round acknowledged (6.4)

  private:
    State state_ = State::probe;
    Index match_;
    Index next_;
    Index pending_snapshot_;
    bool probe_sent_ = false;
    std::deque<Index> inflight_;  // last index of each in-flight append; bounded
    const uint32_t max_inflight_;
    Index match_at_last_heartbeat_;
    uint32_t snapshot_ticks_ = 0;
};

}  // namespace cleave::raft
