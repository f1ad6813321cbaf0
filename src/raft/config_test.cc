#include "raft/config.h"

#include <gtest/gtest.h>

#include <map>

namespace cleave::raft {
namespace {

NodeId n(uint64_t v) { return NodeId{v}; }

TEST(Configuration, CommittedIndexIsTheMajorityMatch) {
    Configuration c;
    c.voters = {n(1), n(2), n(3)};
    std::map<NodeId, Index> match{{n(1), Index{5}}, {n(2), Index{3}}, {n(3), Index{9}}};
    EXPECT_EQ(c.committed_index([&](NodeId id) { return match[id]; }), Index{5});
    c.voters.insert(n(4));  // 4 voters: need 3 -> the 3rd largest
    match[n(4)] = Index{1};
    EXPECT_EQ(c.committed_index([&](NodeId id) { return match[id]; }), Index{3});
}

TEST(Configuration, JointNeedsBothMajorities) {
    Configuration c;
    c.voters = {n(4), n(5), n(6)};
    c.voters_outgoing = {n(1), n(2), n(3)};
    std::map<NodeId, Index> match{{n(1), Index{9}}, {n(2), Index{9}}, {n(3), Index{9}},
                                  {n(4), Index{2}}, {n(5), Index{7}}, {n(6), Index{1}}};
    // Old majority is at 9, new majority only at 2.
    EXPECT_EQ(c.committed_index([&](NodeId id) { return match[id]; }), Index{2});
    EXPECT_TRUE(c.joint());
    EXPECT_TRUE(c.is_voter(n(1)));
    EXPECT_TRUE(c.is_voter(n(6)));
}

TEST(Configuration, VoteResult) {
    Configuration c;
    c.voters = {n(1), n(2), n(3)};
    EXPECT_EQ(c.vote_result({{n(1), true}}), VoteResult::pending);
    EXPECT_EQ(c.vote_result({{n(1), true}, {n(2), true}}), VoteResult::won);
    EXPECT_EQ(c.vote_result({{n(1), true}, {n(2), false}, {n(3), false}}), VoteResult::lost);
    c.voters_outgoing = {n(3), n(4), n(5)};
    // Won in C_new but not in C_old.
    EXPECT_EQ(c.vote_result({{n(1), true}, {n(2), true}}), VoteResult::pending);
    EXPECT_EQ(c.vote_result({{n(1), true}, {n(2), true}, {n(4), false}, {n(5), false}}),
              VoteResult::lost);
    EXPECT_EQ(c.vote_result({{n(1), true}, {n(2), true}, {n(3), true}, {n(4), true}}),
              VoteResult::won);
}

TEST(Configuration, LearnersNeverCount) {
    Configuration c;
    c.voters = {n(1)};
    c.learners = {n(2), n(3)};
    EXPECT_EQ(c.vote_result({{n(1), true}}), VoteResult::won);
    EXPECT_TRUE(c.is_learner(n(2)));
    EXPECT_FALSE(c.is_voter(n(2)));
    EXPECT_EQ(c.members().size(), 3u);
}

}  // namespace
}  // namespace cleave::raft
