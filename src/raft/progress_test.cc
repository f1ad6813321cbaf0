#include "raft/progress.h"

#include <gtest/gtest.h>

namespace cleave::raft {
namespace {

TEST(Progress, ProbeSendsOneAtATime) {
    Progress p(Index{5}, 4);
    EXPECT_FALSE(p.is_paused());
    p.sent_entries(Index{5}, 1);
    EXPECT_TRUE(p.is_paused());
    // A heartbeat response unblocks a probe lost to the network.
    p.on_heartbeat_response(Index{5});
    EXPECT_FALSE(p.is_paused());
}

TEST(Progress, ReplicateWindowIsBounded) {
    Progress p(Index{1}, 2);
    p.become_replicate();
    p.sent_entries(Index{3}, 3);
    EXPECT_EQ(p.next(), Index{4});
    p.sent_entries(Index{5}, 2);
    EXPECT_TRUE(p.is_paused());
    EXPECT_TRUE(p.maybe_update(Index{3}));
    EXPECT_FALSE(p.is_paused());
    EXPECT_EQ(p.inflight(), 1u);
}

TEST(Progress, StaleRejectionsAreIgnored) {
    Progress p(Index{1}, 4);
    p.maybe_update(Index{5});
    p.become_replicate();
    EXPECT_FALSE(p.maybe_decrease_to(Index{4}, Index{2}));  // below match: stale
    EXPECT_TRUE(p.maybe_decrease_to(Index{7}, Index{2}));
    EXPECT_EQ(p.next(), Index{6});  // never below match + 1
}

TEST(Progress, ProbeBacktracksToTheHint) {
    Progress p(Index{10}, 4);
    EXPECT_FALSE(p.maybe_decrease_to(Index{7}, Index{3}));  // not the probe in flight
    EXPECT_TRUE(p.maybe_decrease_to(Index{9}, Index{3}));
    EXPECT_EQ(p.next(), Index{4});
}

TEST(Progress, StalledReplicationIsDetected) {
    Progress p(Index{1}, 4);
    p.become_replicate();
    p.sent_entries(Index{3}, 3);
    EXPECT_FALSE(p.on_heartbeat_response(Index{0}));  // nothing to send
    EXPECT_TRUE(p.on_heartbeat_response(Index{3}));   // no progress since last time
    p.maybe_update(Index{2});
    EXPECT_FALSE(p.on_heartbeat_response(Index{3}));  // progress was made
}

TEST(Progress, SnapshotTimesOut) {
    Progress p(Index{1}, 4);
    p.become_snapshot(Index{20});
    EXPECT_TRUE(p.is_paused());
    EXPECT_FALSE(p.tick_snapshot(3));
    EXPECT_FALSE(p.tick_snapshot(3));
    EXPECT_TRUE(p.tick_snapshot(3));
    p.become_probe();
    EXPECT_EQ(p.next(), Index{21});
}

}  // namespace
}  // namespace cleave::raft
