#include "raft/progress.h"

#include <algorithm>

#include "common/assert.h"

namespace cleave::raft {

void Progress::become_probe() {
    // After a snapshot the follower holds at least the snapshot.
    next_ = state_ == State::snapshot ? std::max(match_, pending_snapshot_).next() : match_.next();
    state_ = State::probe;
    probe_sent_ = false;
    inflight_.clear();
    pending_snapshot_ = Index{};
    snapshot_ticks_ = 0;
}

void Progress::become_replicate() {
    state_ = State::replicate;
    next_ = match_.next();
    match_at_last_heartbeat_ = match_;
    probe_sent_ = false;
    inflight_.clear();
}

void Progress::become_snapshot(Index snapshot_index) {
    state_ = State::snapshot;
    pending_snapshot_ = snapshot_index;
    inflight_.clear();
    snapshot_ticks_ = 0;
}

bool Progress::maybe_update(Index n) {
    bool updated = false;
    if (n > match_) {
        match_ = n;
        updated = true;
        probe_sent_ = false;
    }
    next_ = std::max(next_, n.next());
    // Free the in-flight slots this acknowledgement covers.
    while (!inflight_.empty() && inflight_.front() <= n) inflight_.pop_front();
    return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
    if (state_ == State::replicate) {
        // Reordered rejection of something already matched: ignore.
        if (rejected <= match_) return false;
        next_ = match_.next();
        return true;
    }
    // Probe (or snapshot): only the rejection of the append in flight counts.
    if (next_.prev() != rejected) return false;
    next_ = std::max(std::min(rejected, hint.next()), match_.next());
    probe_sent_ = false;
    return true;
}

void Progress::sent_entries(Index last, size_t count) {
    if (state_ == State::replicate) {
        if (count > 0) {
            next_ = last.next();
            CLEAVE_ASSERT(inflight_.size() < max_inflight_, "in-flight window overflow");
            inflight_.push_back(last);
        }
    } else if (state_ == State::probe) {
        probe_sent_ = true;
    }
}

bool Progress::is_paused() const {
    switch (state_) {
        case State::probe:
            return probe_sent_;
        case State::replicate:
            return inflight_.size() >= max_inflight_;
        case State::snapshot:
            return true;
    }
    return true;
}

bool Progress::on_heartbeat_response(Index leader_last) {
    probe_sent_ = false;
    bool stalled =
        state_ == State::replicate && match_ < leader_last && match_ == match_at_last_heartbeat_;
    match_at_last_heartbeat_ = match_;
    return stalled;
}

bool Progress::tick_snapshot(uint32_t timeout_ticks) {
    if (state_ != State::snapshot) return false;
    return ++snapshot_ticks_ >= timeout_ticks;
}

}  // namespace cleave::raft
