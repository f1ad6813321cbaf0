// The simulated disk and network are part of the oracle's trustworthiness:
// a disk that kept unsynced data, or a partition that leaked, would hide bugs.

#include "sim/storage.h"

#include <gtest/gtest.h>

#include "sim/network.h"

namespace cleave::sim {
namespace {

raft::Ready ready_with(std::initializer_list<uint64_t> indexes, uint64_t term, uint64_t vote) {
    raft::Ready r;
    for (uint64_t i : indexes) {
        raft::Entry e;
        e.index = Index{i};
        e.term = Term{term};
        r.entries.push_back(e);
    }
    r.hard_state = raft::HardState{Term{term}, NodeId{vote}, Index{}};
    return r;
}

TEST(SimStorage, SyncedDataSurvivesACrash) {
    SimStorage s;
    s.write(ready_with({1, 2}, 1, 1));
    s.sync();
    Random rng(1);
    s.crash(rng);
    auto st = s.load();
    EXPECT_EQ(st.entries.size(), 2u);
    EXPECT_EQ(st.hard_state.vote, NodeId{1});
}

TEST(SimStorage, UnsyncedTailIsLostOrTornNeverReordered) {
    bool lost_some = false, kept_some = false;
    for (uint64_t seed = 1; seed <= 200; ++seed) {
        SimStorage s;
        s.write(ready_with({1}, 1, 1));
        s.sync();
        s.write(ready_with({2, 3, 4}, 2, 2));  // entries, then hard state
        Random rng(seed);
        s.crash(rng);
        auto st = s.load();
        ASSERT_GE(st.entries.size(), 1u);
        ASSERT_LE(st.entries.size(), 4u);
        for (size_t i = 0; i < st.entries.size(); ++i) EXPECT_EQ(st.entries[i].index, Index{i + 1});
        // The hard state record comes after the entries: it survives only
        // with all of them.
        if (st.hard_state.vote == NodeId{2}) {
            EXPECT_EQ(st.entries.size(), 4u);
        }
        lost_some |= st.entries.size() < 4;
        kept_some |= st.entries.size() > 1;
    }
    EXPECT_TRUE(lost_some);
    EXPECT_TRUE(kept_some);
}

TEST(SimStorage, RewritesTruncateTheStoredSuffix) {
    SimStorage s;
    s.write(ready_with({1, 2, 3}, 1, 1));
    s.sync();
    s.write(ready_with({2}, 2, 1));
    s.sync();
    auto st = s.load();
    ASSERT_EQ(st.entries.size(), 2u);
    EXPECT_EQ(st.entries[1].term, Term{2});
}

TEST(Network, PartitionsDropAtDeliveryAndOneWayCutsAreOneWay) {
    Random rng(3);
    Network net(rng);
    raft::Message a;
    a.from = NodeId{1};
    a.to = NodeId{2};
    raft::Message b = a;
    b.from = NodeId{2};
    b.to = NodeId{1};
    net.send(a, 0);
    net.block(NodeId{1}, NodeId{2});  // formed while `a` is in flight
    net.send(b, 0);
    auto got = net.take(0, false);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->from, NodeId{2});
    EXPECT_FALSE(net.take(0, false));
}

TEST(Network, DelaysHoldMessagesBack) {
    Random rng(4);
    Network net(rng);
    net.set_faults({0, 0, 5});
    raft::Message m;
    m.from = NodeId{1};
    m.to = NodeId{2};
    for (int i = 0; i < 50; ++i) net.send(m, 0);
    size_t now0 = 0;
    while (net.take(0, true)) ++now0;
    EXPECT_GT(now0, 0u);
    EXPECT_LT(now0, 50u);
    size_t later = 0;
    while (net.take(5, true)) ++later;
    EXPECT_EQ(now0 + later, 50u);
}

}  // namespace
}  // namespace cleave::sim
