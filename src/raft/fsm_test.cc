// Unit tests of the Raft core, driven by hand through a tiny in-test
// "network" that delivers every message at once. The randomized and
// scenario tests live in src/sim.

#include "raft/fsm.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace cleave::raft {
namespace {

NodeId n(uint64_t v) { return NodeId{v}; }

struct Group {
    explicit Group(std::set<NodeId> voters, RaftOptions base = {}, std::set<NodeId> extra = {}) {
        for (NodeId id : extra) voters_and_extra.insert(id);
        for (NodeId id : voters) voters_and_extra.insert(id);
        for (NodeId id : voters_and_extra) {
            RaftOptions o = base;
            o.id = id;
            o.group = GroupId{1};
            rngs[id] = std::make_unique<Random>(id.value());
            PersistentState ps;
            if (voters.count(id)) {
                auto snap = std::make_shared<Snapshot>();
                snap->meta.config.voters = voters;
                ps.snapshot = snap;
            }
            fsms[id] = std::make_unique<Fsm>(o, *rngs[id], std::move(ps));
        }
    }
    Fsm& operator[](uint64_t id) { return *fsms.at(n(id)); }

    // Host loop for one node: "persist", queue messages, "apply". With
    // async_persist, a node in `slow_disk` holds its writes (and every
    // message that may not precede them) until persist(id).
    void process(NodeId id) {
        Fsm& f = *fsms.at(id);
        while (f.has_ready()) {
            Ready r = f.get_ready();
            const bool hold = f.options().async_persist && slow_disk.count(id);
            Held h{r.persist_mark(), {}};
            for (auto& m : r.messages) {
                if (hold && !may_precede_persistence(m.type))
                    h.messages.push_back(std::move(m));
                else
                    send(std::move(m));
            }
            for (auto& e : r.committed) applied[id].push_back(e);
            for (auto& rs : r.read_states) reads[id].push_back(rs);
            f.advance(r);
            if (hold)
                held[id].push_back(std::move(h));
            else if (f.options().async_persist && h.mark)
                f.persisted(*h.mark);
        }
    }
    // The slow disk of `id` finishes every write handed to it.
    void persist(NodeId id) {
        Fsm& f = *fsms.at(id);
        for (auto& h : held[id]) {
            if (h.mark) f.persisted(*h.mark);
            for (auto& m : h.messages) send(std::move(m));
        }
        held[id].clear();
        process(id);
    }
    void send(Message m) {
        if (!cut.count(m.from) && !cut.count(m.to)) queue.push_back(std::move(m));
    }
    void process_all() {
        for (auto& [id, f] : fsms) process(id);
    }
    // Delivers until quiet.
    void stabilize() {
        process_all();
        for (int guard = 0; !queue.empty() && guard < 100000; ++guard) {
            Message m = std::move(queue.front());
            queue.pop_front();
            if (cut.count(m.to) || cut.count(m.from)) continue;
            fsms.at(m.to)->step(std::move(m));
            process_all();
        }
    }
    void elect(uint64_t id) {
        (*this)[id].campaign();
        stabilize();
    }
    void tick_all(int times = 1) {
        for (int i = 0; i < times; ++i)
            for (auto& [id, f] : fsms) {
                f->tick();
                process(id);
            }
    }

    std::set<NodeId> voters_and_extra;
    std::map<NodeId, std::unique_ptr<Random>> rngs;
    std::map<NodeId, std::unique_ptr<Fsm>> fsms;
    std::deque<Message> queue;
    std::set<NodeId> cut;  // nodes whose messages are all lost
    struct Held {
        std::optional<PersistMark> mark;
        std::vector<Message> messages;
    };
    std::set<NodeId> slow_disk;
    std::map<NodeId, std::vector<Held>> held;
    std::map<NodeId, std::vector<Entry>> applied;
    std::map<NodeId, std::vector<ReadState>> reads;
};

TEST(Fsm, SingleVoterElectsItselfAndCommits) {
    Group g({n(1)});
    g[1].campaign();
    g.process_all();
    EXPECT_EQ(g[1].role(), Role::leader);
    auto idx = g[1].propose("x");
    ASSERT_TRUE(idx.is_ok());
    g.process_all();
    EXPECT_EQ(g[1].log().committed(), *idx);
    ASSERT_EQ(g.applied[n(1)].size(), 2u);  // no-op + x
    EXPECT_EQ(g.applied[n(1)][1].data, "x");
}

TEST(Fsm, ElectionReplicationAndCommit) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    EXPECT_EQ(g[1].role(), Role::leader);
    EXPECT_EQ(g[2].leader(), n(1));
    EXPECT_EQ(g[1].term(), Term{1});
    auto idx = g[1].propose("x");
    ASSERT_TRUE(idx.is_ok());
    g.stabilize();
    for (uint64_t id : {1, 2, 3}) {
        EXPECT_EQ(g[id].log().committed(), *idx) << id;
        EXPECT_EQ(g.applied[n(id)].back().data, "x") << id;
    }
    EXPECT_FALSE(g[2].propose("y").is_ok());  // followers do not take proposals
}

TEST(Fsm, PreVoteDoesNotInflateTermsOfAPartitionedNode) {
    RaftOptions o;
    o.pre_vote = true;
    Group g({n(1), n(2), n(3)}, o);
    g.elect(1);
    g.cut = {n(3)};
    for (int i = 0; i < 100; ++i) {
        g[3].tick();
        g.process(n(3));
    }
    EXPECT_EQ(g[3].term(), Term{1}) << "pre-vote (9.6) must keep the term";
    EXPECT_EQ(g[3].role(), Role::pre_candidate);
    g.cut.clear();
    g.tick_all(1);
    g.stabilize();
    EXPECT_EQ(g[1].role(), Role::leader) << "rejoining must not depose the leader";
}

TEST(Fsm, CheckQuorumStepsDownWithoutAQuorum) {
    RaftOptions o;
    o.check_quorum = true;
    Group g({n(1), n(2), n(3)}, o);
    g.elect(1);
    g.cut = {n(2), n(3)};
    for (uint32_t i = 0; i < 2 * o.election_timeout_ticks; ++i) {
        g[1].tick();
        g.process(n(1));
    }
    EXPECT_EQ(g[1].role(), Role::follower);
}

TEST(Fsm, StickyFollowersIgnoreDisruptiveVotes) {
    RaftOptions o;
    o.check_quorum = true;
    o.pre_vote = false;
    Group g({n(1), n(2), n(3)}, o);
    g.elect(1);
    // 3 campaigns while 2 still hears from the leader: 4.2.3.
    g[3].campaign();
    g.stabilize();
    EXPECT_EQ(g[2].term(), Term{1});
    EXPECT_NE(g[3].role(), Role::leader);
}

TEST(Fsm, VotesOncePerTerm) {
    RaftOptions o;
    o.pre_vote = false;
    o.check_quorum = false;
    Group g({n(1), n(2), n(3)}, o);
    Message v;
    v.type = MessageType::vote;
    v.from = n(1);
    v.to = n(3);
    v.term = Term{1};
    g[3].step(v);
    v.from = n(2);
    g[3].step(v);
    Ready r = g[3].get_ready();
    g[3].advance(r);
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_FALSE(r.messages[0].reject);
    EXPECT_TRUE(r.messages[1].reject);
    ASSERT_TRUE(r.hard_state);
    EXPECT_EQ(r.hard_state->vote, n(1));
}

TEST(Fsm, DoesNotCommitAnOldTermEntryByCounting) {
    // 3.6.2: a new leader whose old-term entry reaches a majority does not
    // commit it until an entry of its own term (the no-op) is on a majority.
    RaftOptions o;
    o.pre_vote = false;
    o.check_quorum = false;
    o.max_entries_per_message = 1;  // the old entry and the no-op travel apart
    Group g({n(1), n(2), n(3)}, o);
    g.elect(1);
    g.cut = {n(2), n(3)};
    ASSERT_TRUE(g[1].propose("old").is_ok());  // index 2, term 1, only on 1
    g.process_all();
    g.cut.clear();
    g.queue.clear();
    // Node 1 restarts and wins term 2.
    PersistentState ps;
    ps.hard_state = {g[1].term(), g[1].vote(), g[1].log().committed()};
    ps.snapshot = g[1].log().snapshot();
    ps.entries = g[1].log().slice(g[1].log().first_index(), g[1].log().last_index(), 100);
    o.id = n(1);
    o.group = GroupId{1};
    g.fsms[n(1)] = std::make_unique<Fsm>(o, *g.rngs[n(1)], std::move(ps));
    g[1].campaign();
    g.process_all();
    bool old_on_majority_uncommitted = false;
    for (int guard = 0; !g.queue.empty() && guard < 1000; ++guard) {
        Message m = std::move(g.queue.front());
        g.queue.pop_front();
        g.fsms.at(m.to)->step(std::move(m));
        g.process_all();
        if (g[1].role() != Role::leader) continue;
        ASSERT_NE(g[1].log().committed(), Index{2}) << "committed an old-term entry by counting";
        const Progress* p2 = g[1].progress(n(2));
        const Progress* p3 = g[1].progress(n(3));
        if ((p2->match() == Index{2} || p3->match() == Index{2}) &&
            g[1].log().committed() < Index{2})
            old_on_majority_uncommitted = true;
    }
    EXPECT_TRUE(old_on_majority_uncommitted) << "the scenario did not happen";
    EXPECT_EQ(g[1].term(), Term{2});
    EXPECT_EQ(g[1].log().committed(), Index{3}) << "committed together with the no-op";
}

TEST(Fsm, LeaderReadIndexWaitsForAHeartbeatQuorum) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    ASSERT_TRUE(g[1].read_index(7).is_ok());
    g.process(n(1));
    EXPECT_TRUE(g.reads[n(1)].empty()) << "no answer before a quorum confirmed leadership";
    g.stabilize();
    ASSERT_EQ(g.reads[n(1)].size(), 1u);
    EXPECT_EQ(g.reads[n(1)][0].request_id, 7u);
    EXPECT_EQ(g.reads[n(1)][0].index, g[1].log().committed());
}

TEST(Fsm, IsolatedLeaderNeverAnswersReadIndex) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    g.cut = {n(2), n(3)};
    ASSERT_TRUE(g[1].read_index(1).is_ok());
    g.stabilize();
    g.tick_all(5);
    g.stabilize();
    EXPECT_TRUE(g.reads[n(1)].empty());
}

TEST(Fsm, FollowerReadIndexAsksTheLeader) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    ASSERT_TRUE(g[1].propose("x").is_ok());
    g.stabilize();
    ASSERT_TRUE(g[2].read_index(9).is_ok());
    g.process(n(2));
    EXPECT_TRUE(g.reads[n(2)].empty());
    g.stabilize();
    ASSERT_EQ(g.reads[n(2)].size(), 1u);
    EXPECT_EQ(g.reads[n(2)][0].index, g[1].log().committed());
}

TEST(Fsm, LeaseReadsAreLocalOnlyWhenEnabled) {
    RaftOptions o;
    o.lease_reads = true;
    o.max_clock_drift_ticks = 2;
    Group g({n(1), n(2), n(3)}, o);
    // Boot stickiness delays the first election by a timeout.
    g.elect(1);
    if (g[1].role() != Role::leader) {
        g.tick_all(static_cast<int>(o.election_timeout_ticks));
        g.elect(1);
    }
    ASSERT_EQ(g[1].role(), Role::leader);
    EXPECT_FALSE(g[1].lease_valid());
    g.tick_all(1);  // a heartbeat round acknowledged by a quorum starts the lease
    g.stabilize();
    EXPECT_TRUE(g[1].lease_valid());
    ASSERT_TRUE(g[1].read_index(3).is_ok());
    g.process(n(1));
    EXPECT_EQ(g.reads[n(1)].size(), 1u) << "answered without a round trip";
    // Without acknowledgements the lease runs out.
    g.cut = {n(2), n(3)};
    for (uint32_t i = 0; i < o.election_timeout_ticks; ++i) {
        g[1].tick();
        g.process(n(1));
    }
    EXPECT_FALSE(g[1].lease_valid());
}

TEST(Fsm, LeadershipTransfer) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    ASSERT_TRUE(g[1].transfer_leadership(n(3)).ok());
    EXPECT_FALSE(g[1].propose("blocked").is_ok()) << "3.10: no proposals during a transfer";
    g.stabilize();
    EXPECT_EQ(g[3].role(), Role::leader);
    EXPECT_EQ(g[1].role(), Role::follower);
    EXPECT_EQ(g[3].term(), Term{2});
}

TEST(Fsm, JointConsensusAddsAVoter) {
    Group g({n(1), n(2), n(3)}, {}, {n(4)});
    g.elect(1);
    auto idx = g[1].change_configuration({n(1), n(2), n(3), n(4)}, {});
    ASSERT_TRUE(idx.is_ok());
    EXPECT_TRUE(g[1].configuration().joint());
    EXPECT_FALSE(g[1].change_configuration({n(1)}, {}).is_ok()) << "one change at a time";
    g.stabilize();
    g.tick_all(1);  // followers learn the last commit index from a heartbeat
    g.stabilize();
    for (uint64_t id : {1, 2, 3, 4}) {
        EXPECT_FALSE(g[id].configuration().joint()) << id;
        EXPECT_EQ(g[id].configuration().voters.size(), 4u) << id;
    }
    EXPECT_EQ(g[4].log().committed(), g[1].log().committed());
}

TEST(Fsm, RemovedLeaderStepsDown) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    ASSERT_TRUE(g[1].change_configuration({n(2), n(3)}, {}).is_ok());
    g.stabilize();
    EXPECT_EQ(g[1].role(), Role::follower);
    EXPECT_EQ(g[2].configuration().voters, (std::set<NodeId>{n(2), n(3)}));
}

TEST(Fsm, LearnerReplicatesButNeverCampaigns) {
    Group g({n(1), n(2), n(3)}, {}, {n(4)});
    g.elect(1);
    ASSERT_TRUE(g[1].change_configuration({n(1), n(2), n(3)}, {n(4)}).is_ok());
    g.stabilize();
    ASSERT_TRUE(g[1].propose("x").is_ok());
    g.stabilize();
    EXPECT_EQ(g[4].log().committed(), g[1].log().committed());
    g[4].campaign();
    g.process(n(4));
    EXPECT_EQ(g[4].role(), Role::follower);
}

TEST(Fsm, SnapshotCompactionKeepsTrailingEntries) {
    RaftOptions o;
    o.snapshot_trailing_entries = 2;
    Group g({n(1)}, o);
    g.elect(1);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(g[1].propose("x").is_ok());
    g.process_all();
    const Index applied = g[1].log().applied();
    auto first = g[1].take_snapshot(applied, "state");
    ASSERT_TRUE(first.is_ok());
    EXPECT_EQ(*first, Index{applied.value() - 1});
    EXPECT_EQ(g[1].log().snapshot()->meta.index, applied);
    EXPECT_FALSE(g[1].take_snapshot(applied, "again").is_ok());
    EXPECT_FALSE(g[1].take_snapshot(applied.next(), "ahead").is_ok());
}

TEST(Fsm, LaggingFollowerGetsASnapshot) {
    RaftOptions o;
    o.snapshot_trailing_entries = 0;
    Group g({n(1), n(2), n(3)}, o);
    g.elect(1);
    g.cut = {n(3)};
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(g[1].propose("x").is_ok());
    g.stabilize();
    ASSERT_TRUE(g[1].take_snapshot(g[1].log().applied(), "image").is_ok());
    g.cut.clear();
    for (int i = 0; i < 3; ++i) {  // a heartbeat reveals the stalled follower
        g.tick_all(1);
        g.stabilize();
    }
    EXPECT_EQ(g[3].log().snapshot()->data, "image");
    EXPECT_EQ(g[3].log().committed(), g[1].log().committed());
}

TEST(Fsm, OptionsAreValidated) {
    RaftOptions o;
    o.id = n(1);
    EXPECT_TRUE(validate(o).empty());
    o.lease_reads = true;
    o.check_quorum = false;
    EXPECT_FALSE(validate(o).empty());
    o.check_quorum = true;
    o.max_clock_drift_ticks = o.election_timeout_ticks;
    EXPECT_FALSE(validate(o).empty());
}

RaftOptions async_options() {
    RaftOptions o;
    o.async_persist = true;
    return o;
}

TEST(Fsm, AsyncPersistLeaderCountsItselfOnlyOnceDurable) {
    Group g({n(1), n(2), n(3)}, async_options());
    g.elect(1);
    g.cut.insert(n(3));  // the leader and node 2 are the only majority
    g.slow_disk.insert(n(1));
    auto idx = g[1].propose("x");
    ASSERT_TRUE(idx.is_ok());
    g.stabilize();  // node 2 wrote and acknowledged x; node 1's write runs
    EXPECT_EQ(g[2].log().stable(), *idx);
    EXPECT_LT(g[1].log().committed(), *idx) << "committed before the leader's own write";
    EXPECT_TRUE(g[1].log().unstable_entries().empty()) << "handed out twice";
    g.persist(n(1));
    EXPECT_EQ(g[1].log().committed(), *idx);
    ASSERT_FALSE(g.applied[n(1)].empty());
    EXPECT_EQ(g.applied[n(1)].back().data, "x");
}

TEST(Fsm, AsyncPersistFollowerAppliesOnlyWhatItMadeDurable) {
    Group g({n(1), n(2), n(3)}, async_options());
    g.elect(1);
    g.slow_disk.insert(n(2));
    auto idx = g[1].propose("x");
    ASSERT_TRUE(idx.is_ok());
    g.stabilize();
    g.tick_all();  // a heartbeat carries the commit index to node 2
    g.stabilize();
    EXPECT_EQ(g[1].log().committed(), *idx) << "nodes 1 and 3 are a majority";
    EXPECT_EQ(g[2].log().committed(), *idx);
    EXPECT_LT(g[2].log().stable(), *idx);
    EXPECT_TRUE(g.applied[n(2)].empty() || g.applied[n(2)].back().index < *idx)
        << "applied an entry not durable here";
    EXPECT_FALSE(g[1].progress(n(2))->match() >= *idx) << "acknowledged before durable";
    g.persist(n(2));
    g.stabilize();
    ASSERT_FALSE(g.applied[n(2)].empty());
    EXPECT_EQ(g.applied[n(2)].back().index, *idx);
    EXPECT_EQ(g[1].progress(n(2))->match(), *idx);
}

TEST(Fsm, RestartKeepsTermVoteAndLog) {
    Group g({n(1), n(2), n(3)});
    g.elect(1);
    ASSERT_TRUE(g[1].propose("x").is_ok());
    g.stabilize();
    // Rebuild node 2 from what its ready batches asked to persist.
    PersistentState ps;
    ps.hard_state = {g[2].term(), g[2].vote(), g[2].log().committed()};
    ps.snapshot = g[2].log().snapshot();
    ps.entries = g[2].log().slice(g[2].log().first_index(), g[2].log().last_index(), 100);
    RaftOptions o;
    o.id = n(2);
    Random rng(99);
    Fsm restarted(o, rng, std::move(ps));
    EXPECT_EQ(restarted.term(), Term{1});
    EXPECT_EQ(restarted.vote(), n(1));
    EXPECT_EQ(restarted.log().last_index(), g[2].log().last_index());
    Ready r = restarted.get_ready();
    EXPECT_EQ(r.committed.size(), 2u) << "committed entries are applied again after restart";
    restarted.advance(r);
}

}  // namespace
}  // namespace cleave::raft

namespace cleave::raft {
namespace {

TEST(Fsm, ReadyAsksForASnapshotPastTheThreshold) {
    RaftOptions o;
    o.id = NodeId{1};
    o.snapshot_threshold_entries = 5;
    Random rng(1);
    auto snap = std::make_shared<Snapshot>();
    snap->meta.config.voters = {NodeId{1}};
    PersistentState ps;
    ps.snapshot = snap;
    Fsm f(o, rng, std::move(ps));
    f.campaign();
    std::optional<Index> due;
    for (int i = 0; i < 10 && !due; ++i) {
        ASSERT_TRUE(f.propose("x").is_ok());
        while (f.has_ready()) {
            Ready r = f.get_ready();
            f.advance(r);
            if (r.snapshot_due) due = r.snapshot_due;
        }
    }
    ASSERT_TRUE(due.has_value());
    EXPECT_EQ(*due, Index{5});
    EXPECT_EQ(f.log().applied(), *due);
    ASSERT_TRUE(f.take_snapshot(*due, "image").is_ok());
    ASSERT_TRUE(f.propose("y").is_ok());
    while (f.has_ready()) {
        Ready r = f.get_ready();
        f.advance(r);
        EXPECT_FALSE(r.snapshot_due) << "not due again right after a snapshot";
    }
}

}  // namespace
}  // namespace cleave::raft
