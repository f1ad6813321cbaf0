#pragma once
// ReadIndex requests waiting at the leader for a heartbeat round to be
// acknowledged by a quorum (dissertation 6.4, steps 2-3).
//
//   read r arrives -> read_index = commit; round = ++rounds; heartbeat(round)
//   follower acks round k  => it acknowledged every round <= k in this term
//   quorum acked >= round  => the leader was still leader when r arrived:
//                             answer (r, read_index)
//
// Rounds only grow within a term, so the queue is ordered by round and one
// quorum value releases a prefix of it.

#include <cstdint>
#include <deque>
#include <vector>

#include "common/strong_id.h"

namespace cleave::raft {

struct PendingRead {
    NodeId from;  // the node whose host asked (the leader itself or a follower)
    uint64_t request_id = 0;
    Index index;
    uint64_t round = 0;
};

class ReadOnly {
  public:
    void add(PendingRead read) { pending_.push_back(read); }
    // Removes and returns the reads whose round a quorum has acknowledged.
    std::vector<PendingRead> release(uint64_t quorum_round) {
        std::vector<PendingRead> out;
        while (!pending_.empty() && pending_.front().round <= quorum_round) {
            out.push_back(pending_.front());
            pending_.pop_front();
        }
        return out;
    }
    void clear() { pending_.clear(); }
    size_t size() const { return pending_.size(); }

  private:
    std::deque<PendingRead> pending_;
};

}  // namespace cleave::raft
