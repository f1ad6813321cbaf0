#include "meta/placement_driver.h"

#include <map>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

namespace cleave::meta {
namespace {

// A cluster of `nodes` live nodes (ids 1..n) and shards given as voter lists.
ClusterState cluster(size_t nodes, const std::vector<std::vector<uint64_t>>& shards) {
    ClusterState s;
    for (uint64_t i = 1; i <= nodes; ++i) s.nodes.push_back({i, true, false, 1000, 0});
    uint64_t id = 1;
    for (const auto& voters : shards) {
        ShardState sh;
        sh.id = id++;
        sh.start = std::string(1, static_cast<char>('a' + sh.id - 1));
        sh.end = std::string(1, static_cast<char>('a' + sh.id));
        sh.epoch = 1;
        for (uint64_t v : voters) sh.replicas.push_back({v, true, true});
        s.shards.push_back(std::move(sh));
    }
    s.next_shard_id = id;
    return s;
}

NodeState& node(ClusterState& s, uint64_t id) {
    for (auto& n : s.nodes)
        if (n.id == id) return n;
    throw std::out_of_range("no node");
}

std::vector<Step> only(Step s) { return {std::move(s)}; }

std::vector<Step> steps(const Plan& p) {
    std::vector<Step> out;
    for (const auto& ps : p) out.push_back(ps.step);
    return out;
}

// Applies a plan the way the cluster eventually would: learners are added
// caught up at once, promotions and removals take effect, splits cut the
// range and copy the replica set. Lets a test walk a state to its fixpoint.
void carry_out(ClusterState& s, const Plan& p) {
    for (const auto& ps : p) {
        std::visit(
            [&](const auto& st) {
                using T = std::decay_t<decltype(st)>;
                auto sh = std::find_if(s.shards.begin(), s.shards.end(),
                                       [&](const ShardState& x) { return x.id == st.shard; });
                ASSERT_NE(sh, s.shards.end());
                if constexpr (std::is_same_v<T, AddLearner>) {
                    sh->replicas.push_back({st.node, false, true});
                } else if constexpr (std::is_same_v<T, Promote>) {
                    for (auto& r : sh->replicas)
                        if (r.node == st.node) r.voter = true;
                } else if constexpr (std::is_same_v<T, RemoveReplica>) {
                    std::erase_if(sh->replicas,
                                  [&](const ReplicaState& r) { return r.node == st.node; });
                } else {
                    ShardState right = *sh;
                    right.id = st.new_shard;
                    right.start = st.key;
                    right.size_bytes = sh->size_bytes / 2;
                    right.split_key.clear();
                    sh->end = st.key;
                    sh->size_bytes /= 2;
                    sh->split_key.clear();
                    s.next_shard_id = std::max(s.next_shard_id, st.new_shard + 1);
                    s.shards.push_back(right);
                }
            },
            ps.step);
    }
}

std::map<uint64_t, size_t> counts(const ClusterState& s) {
    std::map<uint64_t, size_t> c;
    for (const auto& n : s.nodes) c[n.id] = 0;
    for (const auto& sh : s.shards)
        for (const auto& r : sh.replicas) ++c[r.node];
    return c;
}

// Runs plan() until it returns nothing (at most `rounds` times).
size_t settle(ClusterState& s, const DriverOptions& o, size_t rounds = 200) {
    for (size_t i = 0; i < rounds; ++i) {
        Plan p = plan(s, o);
        if (p.empty()) return i;
        carry_out(s, p);
    }
    ADD_FAILURE() << "no fixpoint after " << rounds << " rounds";
    return rounds;
}

TEST(PlacementDriver, BalancedHealthyClusterNeedsNothing) {
    ClusterState s = cluster(3, {{1, 2, 3}, {1, 2, 3}});
    EXPECT_TRUE(plan(s, {}).empty());
}

TEST(PlacementDriver, DeadNodeIsReplacedOnTheEmptiestLiveNode) {
    ClusterState s = cluster(5, {{1, 2, 3}, {1, 2, 4}});
    node(s, 2).live = false;
    node(s, 5).used_bytes = 10;
    node(s, 4).used_bytes = 500;
    const Plan p = plan_repair(s, {});
    // Shard 1 lacks a voter: node 5 (no replicas) beats node 4 (one).
    // Shard 2 then finds nodes 3 and 5 at one replica each (node 5 counts
    // the learner just planned); node 3 uses fewer bytes and wins.
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].step, Step(AddLearner{1, 5}));
    EXPECT_EQ(p[1].step, Step(AddLearner{2, 3}));
}

TEST(PlacementDriver, RepairWalksLearnerPromoteRemoveToThreeLiveVoters) {
    ClusterState s = cluster(4, {{1, 2, 3}});
    node(s, 3).live = false;
    ASSERT_EQ(steps(plan(s, {})), only(AddLearner{1, 4}));
    carry_out(s, plan(s, {}));
    // The learner has not caught up: nothing to do but wait.
    s.shards[0].replicas.back().caught_up = false;
    EXPECT_TRUE(plan(s, {}).empty());
    s.shards[0].replicas.back().caught_up = true;
    ASSERT_EQ(steps(plan(s, {})), only(Promote{1, 4}));
    carry_out(s, plan(s, {}));
    // Four voters, one of them dead: the dead one goes.
    ASSERT_EQ(steps(plan(s, {})), only(RemoveReplica{1, 3}));
    carry_out(s, plan(s, {}));
    EXPECT_TRUE(plan(s, {}).empty());
}

TEST(PlacementDriver, NoUsableNodeLeftMeansNoRepairStep) {
    ClusterState s = cluster(3, {{1, 2, 3}});
    node(s, 3).live = false;
    // Only two usable nodes, both already voters: the factor is capped at 2
    // and the shard has 2 live voters.
    EXPECT_TRUE(plan_repair(s, {}).empty());
}

TEST(PlacementDriver, DeadVoterStaysWhileNoNodeCanReplaceIt) {
    ClusterState s = cluster(3, {{1, 2, 3}});
    node(s, 1).live = false;
    EXPECT_TRUE(plan(s, {}).empty());
    // Once a node joins, the repair walk starts with a learner there.
    s.nodes.push_back({4, true, false, 1000, 0});
    EXPECT_EQ(steps(plan(s, {})), only(AddLearner{1, 4}));
}

TEST(PlacementDriver, LearnerOnADeadNodeIsRemoved) {
    ClusterState s = cluster(4, {{1, 2, 3}});
    s.shards[0].replicas.push_back({4, false, false});
    node(s, 4).live = false;
    EXPECT_EQ(steps(plan_finish_moves(s, {})), only(RemoveReplica{1, 4}));
}

TEST(PlacementDriver, BusyShardIsLeftAlone) {
    ClusterState s = cluster(4, {{1, 2, 3}});
    node(s, 3).live = false;
    s.shards[0].busy = true;
    s.shards[0].size_bytes = 1 << 30;
    s.shards[0].split_key = "a5";
    DriverOptions o;
    o.split_bytes = 1000;
    EXPECT_TRUE(plan(s, o).empty());
}

TEST(PlacementDriver, SplitPastTheSizeThresholdAtTheReportedKey) {
    ClusterState s = cluster(3, {{1, 2, 3}, {1, 2, 3}});
    s.shards[0].size_bytes = 5000;
    s.shards[0].split_key = "a5";
    s.shards[1].size_bytes = 900;
    s.shards[1].split_key = "b5";
    DriverOptions o;
    o.split_bytes = 1000;
    EXPECT_EQ(steps(plan_splits(s, o)), only(SplitStep{1, "a5", 3}));
}

TEST(PlacementDriver, SplitByLoadAndNeverAtAKeyOutsideTheRange) {
    ClusterState s = cluster(3, {{1, 2, 3}, {1, 2, 3}});
    s.shards[0].requests_per_s = 900;
    s.shards[0].split_key = "a";  // the range's start: cutting there leaves one side empty
    s.shards[1].requests_per_s = 900;
    s.shards[1].split_key = "b7";
    DriverOptions o;
    o.split_requests_per_s = 500;
    EXPECT_EQ(steps(plan_splits(s, o)), only(SplitStep{2, "b7", 3}));
    o.split_requests_per_s = 0;  // disabled
    EXPECT_TRUE(plan_splits(s, o).empty());
}

TEST(PlacementDriver, NewNodesReceiveTheirShareOfReplicas) {
    // 12 shards on nodes 1-3; nodes 4 and 5 join empty.
    std::vector<std::vector<uint64_t>> shards(12, {1, 2, 3});
    ClusterState s = cluster(5, shards);
    DriverOptions o;
    o.max_moves = 2;
    settle(s, o);
    const auto c = counts(s);
    size_t lo = SIZE_MAX, hi = 0;
    for (const auto& [id, n] : c) {
        lo = std::min(lo, n);
        hi = std::max(hi, n);
    }
    // 36 replicas over 5 nodes: 7 or 8 each.
    EXPECT_LE(hi - lo, 1u) << "counts after balancing";
    for (const auto& sh : s.shards) {
        EXPECT_EQ(sh.replicas.size(), 3u) << "shard " << sh.id;
        std::set<uint64_t> distinct;
        for (const auto& r : sh.replicas) {
            EXPECT_TRUE(r.voter);
            distinct.insert(r.node);
        }
        EXPECT_EQ(distinct.size(), 3u) << "shard " << sh.id << " has two replicas on one node";
    }
}

TEST(PlacementDriver, DrainEmptiesTheNodeAndKeepsTheFactor) {
    std::vector<std::vector<uint64_t>> shards(6, {1, 2, 3});
    ClusterState s = cluster(4, shards);
    node(s, 2).draining = true;
    settle(s, {});
    EXPECT_EQ(counts(s)[2], 0u);
    for (const auto& sh : s.shards) EXPECT_EQ(sh.replicas.size(), 3u) << "shard " << sh.id;
}

TEST(PlacementDriver, SplitsThenBalanceConvergeFromOneShard) {
    ClusterState s = cluster(5, {{1, 2, 3}});
    s.shards[0].start = "";
    s.shards[0].end = "";
    s.shards[0].size_bytes = 16000;
    DriverOptions o;
    o.split_bytes = 1500;
    o.max_moves = 3;
    // Keys are 2-byte positions in [0, 65536) ("" is either end); each
    // round, every shard's leader reports the middle of its range.
    auto pos = [](const std::string& k, uint32_t if_empty) {
        return k.empty() ? if_empty
                         : (static_cast<uint32_t>(static_cast<unsigned char>(k[0])) << 8) |
                               static_cast<unsigned char>(k[1]);
    };
    for (int round = 0; round < 100; ++round) {
        for (auto& sh : s.shards) {
            const uint32_t mid = (pos(sh.start, 0) + pos(sh.end, 65536)) / 2;
            sh.split_key = {static_cast<char>(mid >> 8), static_cast<char>(mid & 0xff)};
        }
        Plan p = plan(s, o);
        if (p.empty()) break;
        carry_out(s, p);
    }
    EXPECT_GE(s.shards.size(), 16u);
    const auto c = counts(s);
    size_t lo = SIZE_MAX, hi = 0;
    for (const auto& [id, n] : c) {
        lo = std::min(lo, n);
        hi = std::max(hi, n);
    }
    EXPECT_LE(hi - lo, 1u);
    EXPECT_TRUE(plan(s, o).empty());
}

TEST(PlacementDriver, RepairComesBeforeBalance) {
    ClusterState s = cluster(5, {{1, 2, 3}, {1, 2, 3}, {1, 2, 3}});
    node(s, 1).live = false;
    const Plan p = plan(s, {});
    // Every shard gets a learner for the dead node's replica; no balancing
    // move competes with the repair.
    ASSERT_EQ(p.size(), 3u);
    for (const auto& ps : p) EXPECT_TRUE(std::holds_alternative<AddLearner>(ps.step));
    carry_out(s, p);
    auto c = counts(s);
    EXPECT_GE(c[4], 1u);
    EXPECT_GE(c[5], 1u);
}

TEST(PlacementDriver, DescribeNamesTheStep) {
    EXPECT_EQ(describe(AddLearner{3, 4}), "add learner of shard 3 on node 4");
    EXPECT_EQ(describe(SplitStep{1, "\x01\xff", 9}), "split shard 1 at 01ff into new shard 9");
}

TEST(PlacementDriver, OfFourVotersTheOneOnADeadNodeGoesFirst) {
    // After a repair: the new voter on node 5 joined, node 1 is dead (and
    // node 2, long gone, holds nothing): node 1 leaves, never a live voter.
    ClusterState s = cluster(5, {{1, 3, 4, 5}});
    node(s, 1).live = false;
    node(s, 2).live = false;
    node(s, 3).used_bytes = 900;  // the busiest live node must still stay
    EXPECT_EQ(steps(plan(s, {})), only(RemoveReplica{1, 1}));
}

}  // namespace
}  // namespace cleave::meta
