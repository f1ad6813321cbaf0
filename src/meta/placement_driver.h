#pragma once
// The placement driver's decisions (DESIGN.md §7): pure functions from the
// cluster state, as the meta shard's leader sees it through heartbeats, to a
// plan of steps. Nothing here does I/O or keeps state between calls: the
// leader executes a plan's steps through the shards' own Raft logs, observes
// their effect in the next heartbeats, and asks again. A move is therefore
// not one step but the sequence the state walks through:
//
//   AddLearner(shard, to)   the new replica catches up (log or snapshot)
//   Promote(shard, to)      once it has caught up, it becomes a voter
//   RemoveReplica(shard, from)   the shard has one voter too many
//
// and each call emits only the next step of each shard, so a plan is always
// safe to act on and cheap to recompute. Order of concerns in plan():
//   1. repair: a shard with fewer live voters than the replication factor
//      gets a learner on the best live node, whatever else is going on;
//   2. finishing moves: caught-up learners are promoted; a shard with more
//      voters than the factor drops the worst one (on a dead node, then a
//      draining one, then the busiest);
//   3. splits: a shard past the size or load threshold is cut at its
//      reported middle key;
//   4. balance: drained nodes are emptied, and replicas move from the node
//      with the most to the node with the fewest until counts differ by at
//      most one (bytes break ties), at most `max_moves` shards at a time.
// A shard with a step in flight (`busy`) is left alone.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cleave::meta {

struct NodeState {
    uint64_t id = 0;
    bool live = true;       // heard from within the liveness timeout
    bool draining = false;  // the operator asked to empty it (`cleave admin drain`)
    uint64_t capacity_bytes = 0;
    uint64_t used_bytes = 0;
};

struct ReplicaState {
    uint64_t node = 0;
    bool voter = true;
    bool caught_up = true;  // a learner: has it reached the leader's log?
};

struct ShardState {
    uint64_t id = 0;
    std::string start;  // [start, end) of the placement keyspace; end "" = the end
    std::string end;
    uint64_t epoch = 0;
    std::vector<ReplicaState> replicas;
    uint64_t size_bytes = 0;
    double requests_per_s = 0;
    std::string split_key;  // the key that halves the data by size; "" = unknown
    bool busy = false;      // a split or membership change is in flight
};

struct ClusterState {
    std::vector<NodeState> nodes;
    std::vector<ShardState> shards;
    uint64_t next_shard_id = 1;  // the id a split's new shard gets
};

struct DriverOptions {
    size_t replication = 3;           // voters per shard (fewer if fewer usable nodes)
    uint64_t split_bytes = 0;         // split past this size; 0 = never by size
    double split_requests_per_s = 0;  // split past this load; 0 = never by load
    size_t max_moves = 1;             // balancing moves started per plan
};

struct SplitStep {
    uint64_t shard = 0;
    std::string key;  // the new shard owns [key, end)
    uint64_t new_shard = 0;
    friend bool operator==(const SplitStep&, const SplitStep&) = default;
};
struct AddLearner {
    uint64_t shard = 0;
    uint64_t node = 0;
    friend bool operator==(const AddLearner&, const AddLearner&) = default;
};
struct Promote {
    uint64_t shard = 0;
    uint64_t node = 0;
    friend bool operator==(const Promote&, const Promote&) = default;
};
struct RemoveReplica {
    uint64_t shard = 0;
    uint64_t node = 0;
    friend bool operator==(const RemoveReplica&, const RemoveReplica&) = default;
};
using Step = std::variant<SplitStep, AddLearner, Promote, RemoveReplica>;

struct PlannedStep {
    Step step;
    std::string why;  // for logs and `cleave admin`
};

using Plan = std::vector<PlannedStep>;

// Every concern, in the order above; at most one step per shard.
Plan plan(const ClusterState& state, const DriverOptions& options);

// The concerns one by one (each also at most one step per shard).
Plan plan_repair(const ClusterState& state, const DriverOptions& options);
Plan plan_finish_moves(const ClusterState& state, const DriverOptions& options);
Plan plan_splits(const ClusterState& state, const DriverOptions& options);
Plan plan_balance(const ClusterState& state, const DriverOptions& options);

std::string describe(const Step& step);

}  // namespace cleave::meta
