#pragma once
// A seeded, in-process network for the simulator. Messages wait in one
// queue with a delivery time; faults are decided by the simulator's Random
// so that a seed fixes every drop, delay, duplicate and reordering.

#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/random.h"
#include "raft/messages.h"

namespace cleave::sim {

struct NetworkFaults {
    uint32_t drop_per_mille = 0;       // probability a message is lost
    uint32_t duplicate_per_mille = 0;  // probability a message is delivered twice
    uint32_t max_delay_ticks = 0;      // delay is uniform in [0, max]
};

class Network {
  public:
    explicit Network(Random& rng) : rng_(rng) {}

    void set_faults(NetworkFaults faults) { faults_ = faults; }
    const NetworkFaults& faults() const { return faults_; }

    // Queues a message sent at `now`; may drop or duplicate it.
    void send(raft::Message m, uint64_t now);
    // Removes and returns a message due at `now`: a random one when
    // `reorder`, else the oldest. Messages across a partition are dropped
    // at delivery (a partition may have formed while they were in flight).
    // With `only_to`, only messages addressed to those nodes are considered.
    std::optional<raft::Message> take(uint64_t now, bool reorder,
                                      const std::set<NodeId>* only_to = nullptr);
    size_t pending() const { return queue_.size(); }
    void clear() { queue_.clear(); }

    // Partitions: `from` can no longer reach `to` (one way).
    void block(NodeId from, NodeId to) { blocked_.insert({from, to}); }
    bool blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) > 0; }
    void heal() { blocked_.clear(); }
    bool partitioned() const { return !blocked_.empty(); }
    // Drops everything queued for `to` (a crashed node loses its inbox).
    void drop_to(NodeId to);
    // When set, messages dropped by a partition at delivery are appended here
    // (the data-driven tests print them).
    void set_drop_log(std::vector<raft::Message>* log) { drop_log_ = log; }

  private:
    struct InFlight {
        uint64_t deliver_at = 0;
        raft::Message message;
    };
    Random& rng_;
    NetworkFaults faults_;
    std::vector<InFlight> queue_;
    std::set<std::pair<NodeId, NodeId>> blocked_;
    std::vector<raft::Message>* drop_log_ = nullptr;
};

}  // namespace cleave::sim
