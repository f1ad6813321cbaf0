#include "meta/placement_driver.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::meta {

namespace {

using Counts = std::map<uint64_t, size_t>;  // node -> replicas it holds

const NodeState* find_node(const ClusterState& s, uint64_t id) {
    for (const auto& n : s.nodes)
        if (n.id == id) return &n;
    return nullptr;
}

bool live(const ClusterState& s, uint64_t id) {
    const NodeState* n = find_node(s, id);
    return n && n->live;
}

bool usable(const NodeState& n) { return n.live && !n.draining; }

size_t usable_nodes(const ClusterState& s) {
    return static_cast<size_t>(std::count_if(s.nodes.begin(), s.nodes.end(), usable));
}

// The factor a shard can have: no more voters than usable nodes.
size_t target_voters(const ClusterState& s, const DriverOptions& o) {
    return std::max<size_t>(1, std::min(o.replication, std::max<size_t>(usable_nodes(s), 1)));
}

Counts replica_counts(const ClusterState& s) {
    Counts c;
    for (const auto& n : s.nodes)
        if (usable(n)) c[n.id] = 0;
    for (const auto& sh : s.shards)
        for (const auto& r : sh.replicas) ++c[r.node];
    return c;
}

bool holds(const ShardState& sh, uint64_t node) {
    return std::any_of(sh.replicas.begin(), sh.replicas.end(),
                       [&](const ReplicaState& r) { return r.node == node; });
}

size_t voters(const ShardState& sh) {
    return static_cast<size_t>(std::count_if(sh.replicas.begin(), sh.replicas.end(),
                                             [](const ReplicaState& r) { return r.voter; }));
}

size_t live_voters(const ClusterState& s, const ShardState& sh) {
    return static_cast<size_t>(
        std::count_if(sh.replicas.begin(), sh.replicas.end(),
                      [&](const ReplicaState& r) { return r.voter && live(s, r.node); }));
}

// A learner still catching up on a live node: a move or repair in flight.
bool learner_in_flight(const ClusterState& s, const ShardState& sh) {
    return std::any_of(sh.replicas.begin(), sh.replicas.end(),
                       [&](const ReplicaState& r) { return !r.voter && live(s, r.node); });
}

// The usable node that should receive a replica of `sh`: the fewest
// replicas, then the fewest bytes used, then the lowest id.
uint64_t best_target(const ClusterState& s, const ShardState& sh, const Counts& counts) {
    const NodeState* best = nullptr;
    auto rank = [&](const NodeState& n) {
        auto it = counts.find(n.id);
        return std::make_tuple(it == counts.end() ? size_t{0} : it->second, n.used_bytes, n.id);
    };
    for (const auto& n : s.nodes) {
        if (!usable(n) || holds(sh, n.id)) continue;
        if (!best || rank(n) < rank(*best)) best = &n;
    }
    return best ? best->id : 0;
}

// The voter a shard with one voter too many should drop: one on a dead
// node, then on a draining node, then on the node holding the most
// replicas (then the most bytes, then the highest id).
uint64_t worst_voter(const ClusterState& s, const ShardState& sh, const Counts& counts) {
    const ReplicaState* worst = nullptr;
    auto rank = [&](const ReplicaState& r) {
        const NodeState* n = find_node(s, r.node);
        const int state = !n || !n->live ? 2 : n->draining ? 1 : 0;
        auto it = counts.find(r.node);
        return std::make_tuple(state, it == counts.end() ? size_t{0} : it->second,
                               n ? n->used_bytes : 0, r.node);
    };
    for (const auto& r : sh.replicas) {
        if (!r.voter) continue;
        if (!worst || rank(r) > rank(*worst)) worst = &r;
    }
    return worst ? worst->node : 0;
}

uint64_t shard_of(const Step& step) {
    return std::visit([](const auto& st) { return st.shard; }, step);
}

bool in_range(const ShardState& sh, const std::string& key) {
    return key > sh.start && (sh.end.empty() || key < sh.end);
}

}  // namespace

Plan plan_repair(const ClusterState& s, const DriverOptions& o) {
    Plan plan;
    Counts counts = replica_counts(s);
    const size_t want = target_voters(s, o);
    for (const auto& sh : s.shards) {
        if (sh.busy || learner_in_flight(s, sh)) continue;
        const size_t have = live_voters(s, sh);
        if (have >= want) continue;
        const uint64_t to = best_target(s, sh, counts);
        if (to == 0) continue;  // no usable node left without a copy
        ++counts[to];
        plan.push_back({AddLearner{sh.id, to},
                        fmt::format("shard {} has {} live voters of {}", sh.id, have, want)});
    }
    return plan;
}

Plan plan_finish_moves(const ClusterState& s, const DriverOptions& o) {
    Plan plan;
    const Counts counts = replica_counts(s);
    for (const auto& sh : s.shards) {
        if (sh.busy) continue;
        const ReplicaState* dead_learner = nullptr;
        const ReplicaState* ready = nullptr;
        for (const auto& r : sh.replicas) {
            if (r.voter) continue;
            if (!live(s, r.node)) {
                dead_learner = &r;
            } else if (r.caught_up && !ready) {
                ready = &r;
            }
        }
        if (dead_learner) {
            plan.push_back(
                {RemoveReplica{sh.id, dead_learner->node},
                 fmt::format("learner of shard {} on dead node {}", sh.id, dead_learner->node)});
        } else if (ready) {
            plan.push_back(
                {Promote{sh.id, ready->node},
                 fmt::format("learner of shard {} on node {} caught up", sh.id, ready->node)});
        } else if (voters(sh) > o.replication && !learner_in_flight(s, sh)) {
            // Above the configured factor only: a dead voter with no live
            // node to replace it stays (dropping it would gain nothing and
            // would shrink the group while the cluster is short of nodes).
            const uint64_t from = worst_voter(s, sh, counts);
            plan.push_back(
                {RemoveReplica{sh.id, from},
                 fmt::format("shard {} has {} voters of {}", sh.id, voters(sh), o.replication)});
        }
    }
    return plan;
}

Plan plan_splits(const ClusterState& s, const DriverOptions& o) {
    Plan plan;
    uint64_t next = s.next_shard_id;
    for (const auto& sh : s.shards) {
        if (sh.busy || !in_range(sh, sh.split_key)) continue;
        const bool big = o.split_bytes > 0 && sh.size_bytes > o.split_bytes;
        const bool hot = o.split_requests_per_s > 0 && sh.requests_per_s > o.split_requests_per_s;
        if (!big && !hot) continue;
        plan.push_back({SplitStep{sh.id, sh.split_key, next++},
                        big ? fmt::format("shard {} holds {} bytes (> {})", sh.id, sh.size_bytes,
                                          o.split_bytes)
                            : fmt::format("shard {} serves {:.0f} requests/s (> {:.0f})", sh.id,
                                          sh.requests_per_s, o.split_requests_per_s)});
    }
    return plan;
}

Plan plan_balance(const ClusterState& s, const DriverOptions& o) {
    Plan plan;
    Counts counts = replica_counts(s);
    std::set<uint64_t> moved;
    const size_t want = target_voters(s, o);
    // A shard may start a move when nothing else is going on with it.
    auto movable = [&](const ShardState& sh) {
        return !sh.busy && !learner_in_flight(s, sh) && voters(sh) <= want && !moved.count(sh.id);
    };
    auto start_move = [&](const ShardState& sh, uint64_t from, uint64_t to,
                          const std::string& why) {
        plan.push_back({AddLearner{sh.id, to}, why});
        moved.insert(sh.id);
        ++counts[to];
        if (counts[from] > 0) --counts[from];  // once the move finishes
    };

    // Draining nodes first: every replica they hold goes.
    for (const auto& n : s.nodes) {
        if (!n.live || !n.draining) continue;
        for (const auto& sh : s.shards) {
            if (moved.size() >= o.max_moves) return plan;
            if (!holds(sh, n.id) || !movable(sh)) continue;
            const uint64_t to = best_target(s, sh, counts);
            if (to == 0) continue;
            start_move(sh, n.id, to, fmt::format("node {} is draining", n.id));
        }
    }
    // Then even counts among usable nodes.
    while (moved.size() < o.max_moves) {
        uint64_t most = 0, fewest = 0;
        for (const auto& n : s.nodes) {
            if (!usable(n)) continue;
            if (most == 0 || counts[n.id] > counts[most]) most = n.id;
            if (fewest == 0 || counts[n.id] < counts[fewest]) fewest = n.id;
        }
        if (most == 0 || counts[most] <= counts[fewest] + 1) break;
        const ShardState* pick = nullptr;
        for (const auto& sh : s.shards) {
            if (holds(sh, most) && !holds(sh, fewest) && movable(sh) &&
                (!pick || sh.size_bytes > pick->size_bytes))
                pick = &sh;
        }
        if (!pick) break;
        start_move(*pick, most, fewest,
                   fmt::format("node {} holds {} replicas, node {} holds {}", most, counts[most],
                               fewest, counts[fewest]));
    }
    return plan;
}

Plan plan(const ClusterState& s, const DriverOptions& o) {
    Plan out;
    std::set<uint64_t> touched;
    auto take = [&](Plan p) {
        for (auto& step : p) {
            if (!touched.insert(shard_of(step.step)).second) continue;
            out.push_back(std::move(step));
        }
    };
    Plan repair = plan_repair(s, o);
    const bool repairing = !repair.empty();
    take(std::move(repair));
    take(plan_finish_moves(s, o));
    take(plan_splits(s, o));
    // Balancing waits until every shard has its voters back.
    if (!repairing) take(plan_balance(s, o));
    return out;
}

std::string describe(const Step& step) {
    struct {
        std::string operator()(const SplitStep& st) const {
            return fmt::format("split shard {} at {} into new shard {}", st.shard, to_hex(st.key),
                               st.new_shard);
        }
        std::string operator()(const AddLearner& st) const {
            return fmt::format("add learner of shard {} on node {}", st.shard, st.node);
        }
        std::string operator()(const Promote& st) const {
            return fmt::format("promote shard {}'s learner on node {}", st.shard, st.node);
        }
        std::string operator()(const RemoveReplica& st) const {
            return fmt::format("remove shard {}'s replica on node {}", st.shard, st.node);
        }
    } v;
    return std::visit(v, step);
}

}  // namespace cleave::meta
