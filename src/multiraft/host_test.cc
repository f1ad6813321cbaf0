// Three Hosts in one process, talking over real loopback TCP (rpc::Transport),
// each with its own io_context thread and directory: elections, proposals,
// follower reads, restart from the WAL, and catch-up by a snapshot pulled in
// pieces after the log was compacted past a stopped follower.

#include "multiraft/host.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "multiraft/wire.h"

namespace cleave::multiraft {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The replicated state: the list of commands applied, "a,b,c".
class ListMachine final : public GroupStateMachine {
  public:
    uint64_t applied_index() const override {
        std::lock_guard lock(mu_);
        return applied_;
    }
    Result<std::string> apply(uint64_t index, std::string_view command) override {
        {
            std::unique_lock gate(gate_mu_);
            gate_cv_.wait(gate, [&] { return !held_; });
        }
        std::lock_guard lock(mu_);
        EXPECT_EQ(index, applied_ + 1);
        applied_ = index;
        if (!command.empty()) items_.emplace_back(command);
        return "applied " + std::string(command);
    }
    Result<std::pair<uint64_t, std::string>> snapshot() override {
        std::lock_guard lock(mu_);
        return std::make_pair(applied_, joined());
    }
    Status install(uint64_t index, std::string_view image) override {
        std::lock_guard lock(mu_);
        items_.clear();
        std::string cur;
        for (char c : image) {
            if (c == ',') {
                items_.push_back(cur);
                cur.clear();
            } else {
                cur.push_back(c);
            }
        }
        if (!cur.empty()) items_.push_back(cur);
        applied_ = index;
        ++installs_;
        return Status::ok();
    }
    std::string items() const {
        std::lock_guard lock(mu_);
        return joined();
    }
    int installs() const {
        std::lock_guard lock(mu_);
        return installs_;
    }
    // While held, apply() waits: an apply thread that is behind its log.
    void hold(bool on) {
        {
            std::lock_guard gate(gate_mu_);
            held_ = on;
        }
        gate_cv_.notify_all();
    }

  private:
    std::string joined() const {
        std::string out;
        for (size_t i = 0; i < items_.size(); ++i) out += (i ? "," : "") + items_[i];
        return out;
    }
    mutable std::mutex mu_;
    uint64_t applied_ = 0;
    std::vector<std::string> items_;
    int installs_ = 0;
    std::mutex gate_mu_;
    std::condition_variable gate_cv_;
    bool held_ = false;
};

constexpr GroupId kGroup{7};

struct TestNode {
    NodeId id;
    std::string dir;
    asio::io_context io;
    std::unique_ptr<rpc::Transport> transport;
    std::unique_ptr<Host> host;
    ListMachine sm;
    std::thread thread;

    TestNode(NodeId id_, std::string dir_, const HostOptions& base)
        : id(id_), dir(std::move(dir_)) {
        rpc::TransportConfig tc;
        tc.node_id = id.value();
        tc.secret = "test-secret";
        transport = std::make_unique<rpc::Transport>(io, tc);
        HostOptions ho = base;
        ho.id = id;
        ho.dir = dir;
        host = std::make_unique<Host>(io, *transport, ho);
        transport->on_message([this](uint64_t from, std::string body) {
            if (!body.empty() && body[0] == wire::kRaftBatch)
                host->on_raft_batch(from, std::string_view(body).substr(1));
        });
        transport->on_request([this](uint64_t from, std::string body) {
            return host->on_snapshot_piece(from, std::move(body));
        });
    }
    // With no voters: a node that hosts nothing yet (it joins later with
    // add_group_running).
    Status start(const std::set<NodeId>& voters) {
        CLEAVE_RETURN_IF_ERROR(transport->start());
        CLEAVE_RETURN_IF_ERROR(host->open());
        if (!voters.empty()) CLEAVE_RETURN_IF_ERROR(host->add_group(kGroup, voters, sm));
        host->start();
        thread = std::thread([this] {
            auto guard = asio::make_work_guard(io);
            io.run();
        });
        return Status::ok();
    }
    void set_peer(uint64_t peer, uint16_t port) {
        std::promise<void> done;
        asio::post(io, [&] {
            transport->set_peer(peer, "127.0.0.1", port);
            done.set_value();
        });
        done.get_future().wait();
    }
    ~TestNode() {
        host->stop();
        std::promise<void> done;
        asio::post(io, [&] {
            transport->stop();
            done.set_value();
        });
        done.get_future().wait();
        io.stop();
        thread.join();
    }
};

class HostTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = std::filesystem::temp_directory_path() /
                ("cleave-host-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(root_);
        for (int i = 1; i <= 3; ++i) std::filesystem::create_directories(dir(i));
        options_.tick_ms = 20;
        options_.wal_sync = false;  // the WAL's own tests cover durability
    }
    void TearDown() override {
        nodes_.clear();
        std::filesystem::remove_all(root_);
    }
    std::string dir(int i) const { return (root_ / ("n" + std::to_string(i))).string(); }

    void start(int i, bool initial_member = true) {
        std::filesystem::create_directories(dir(i));
        auto n = std::make_unique<TestNode>(NodeId{static_cast<uint64_t>(i)}, dir(i), options_);
        const std::set<NodeId> voters = {NodeId{1}, NodeId{2}, NodeId{3}};
        ASSERT_TRUE(n->start(initial_member ? voters : std::set<NodeId>{}).is_ok());
        nodes_[i] = std::move(n);
        // Tell everyone everyone's (possibly new) port.
        for (auto& [a, na] : nodes_)
            for (auto& [b, nb] : nodes_)
                if (a != b) na->set_peer(static_cast<uint64_t>(b), nb->transport->port());
    }
    void stop(int i) { nodes_.erase(i); }

    // Polls `pred` until it holds or the deadline passes.
    template <typename P>
    bool eventually(P pred, std::chrono::milliseconds within = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + within;
        while (std::chrono::steady_clock::now() < deadline) {
            if (pred()) return true;
            std::this_thread::sleep_for(5ms);
        }
        return pred();
    }
    int leader() {
        for (auto& [i, n] : nodes_)
            if (n->host->leader(kGroup) == n->id) return i;
        return 0;
    }
    Result<std::string> propose(const std::string& cmd) {
        Result<std::string> r = Status(Errc::not_leader, "none yet");
        eventually([&] {
            int l = leader();
            if (l == 0) return false;
            r = nodes_[l]->host->propose(kGroup, cmd, 5s);
            return r.is_ok();
        });
        return r;
    }

    std::filesystem::path root_;
    HostOptions options_;
    std::map<int, std::unique_ptr<TestNode>> nodes_;
};

TEST_F(HostTest, ReplicatesProposalsAndServesFollowerReads) {
    for (int i = 1; i <= 3; ++i) start(i);
    ASSERT_TRUE(eventually([&] { return leader() != 0; }));
    for (int k = 0; k < 20; ++k) {
        auto r = propose("c" + std::to_string(k));
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        EXPECT_EQ(*r, "applied c" + std::to_string(k));
    }
    std::string want;
    for (int k = 0; k < 20; ++k) want += (k ? ",c" : "c") + std::to_string(k);
    // A read barrier on a follower returns only once it applied every write
    // acknowledged before it: no polling needed after it.
    const int follower = leader() % 3 + 1;
    ASSERT_TRUE(nodes_[follower]->host->read_barrier(kGroup, 5s).is_ok());
    EXPECT_EQ(nodes_[follower]->sm.items(), want);
    for (int i = 1; i <= 3; ++i)
        EXPECT_TRUE(eventually([&] { return nodes_[i]->sm.items() == want; })) << i;
}

TEST_F(HostTest, AFollowerProposalIsRefusedWithNotLeader) {
    for (int i = 1; i <= 3; ++i) start(i);
    ASSERT_TRUE(eventually([&] { return leader() != 0; }));
    const int follower = leader() % 3 + 1;
    auto r = nodes_[follower]->host->propose(kGroup, "x", 2s);
    EXPECT_EQ(r.status().code(), Errc::not_leader);
}

TEST_F(HostTest, RestartedNodeRecoversFromItsWalAndCatchesUp) {
    for (int i = 1; i <= 3; ++i) start(i);
    ASSERT_TRUE(propose("a").is_ok());
    ASSERT_TRUE(propose("b").is_ok());
    const int victim = leader() % 3 + 1;
    ASSERT_TRUE(eventually([&] { return nodes_[victim]->sm.items() == "a,b"; }));
    stop(victim);
    ASSERT_TRUE(propose("c").is_ok());
    start(victim);  // a fresh state machine: everything comes from its WAL and the leader
    EXPECT_TRUE(eventually([&] { return nodes_[victim]->sm.items() == "a,b,c"; }))
        << nodes_[victim]->sm.items();
    EXPECT_EQ(nodes_[victim]->sm.installs(), 0);  // the log sufficed
}

TEST_F(HostTest, NodeBehindACompactedLogCatchesUpBySnapshotInPieces) {
    options_.snapshot_entries = 5;
    options_.trailing_entries = 2;
    options_.snapshot_piece_bytes = 7;  // many pieces
    for (int i = 1; i <= 3; ++i) start(i);
    ASSERT_TRUE(propose("first").is_ok());
    const int victim = leader() % 3 + 1;
    ASSERT_TRUE(eventually([&] { return nodes_[victim]->sm.items() == "first"; }));
    stop(victim);
    std::string want = "first";
    for (int k = 0; k < 30; ++k) {
        ASSERT_TRUE(propose("v" + std::to_string(k)).is_ok());
        want += ",v" + std::to_string(k);
    }
    const int l = leader();
    ASSERT_TRUE(nodes_[l]->host->compact(kGroup).is_ok());
    const auto st = nodes_[l]->host->status(kGroup);
    ASSERT_GT(st.snapshot_index, 10u);
    start(victim);
    EXPECT_TRUE(eventually([&] { return nodes_[victim]->sm.items() == want; }))
        << nodes_[victim]->sm.items();
    EXPECT_GE(nodes_[victim]->sm.installs(), 1);
    // And it keeps following the log after the snapshot.
    ASSERT_TRUE(propose("after").is_ok());
    EXPECT_TRUE(eventually([&] { return nodes_[victim]->sm.items() == want + ",after"; }));
}

// The move the placement driver makes (meta/placement_driver.h): a fourth
// node joins as a learner, catches up by snapshot (the log was compacted),
// is promoted, and an original voter is removed; the group then commits
// with the new node's vote while two of the original voters are gone.
// A split's child: every initial member already holds state that is not in
// the group's log. A replica added later must get it through the base
// snapshot, not by replaying a log that lacks it.
TEST_F(HostTest, AGroupWithInheritedStateGivesItToALaterLearner) {
    for (int i = 1; i <= 3; ++i) start(i, /*initial_member=*/false);
    const std::set<NodeId> voters = {NodeId{1}, NodeId{2}, NodeId{3}};
    const Host::BaseState base{1, "base1,base2"};
    for (int i = 1; i <= 3; ++i) {
        ASSERT_TRUE(nodes_[i]->sm.install(1, base.image).is_ok());
        ASSERT_TRUE(
            nodes_[i]->host->add_group_running(kGroup, nodes_[i]->sm, voters, &base).is_ok());
    }
    ASSERT_TRUE(propose("m0").is_ok());

    start(4, /*initial_member=*/false);
    ASSERT_TRUE(nodes_[4]->host->add_group_running(kGroup, nodes_[4]->sm).is_ok());
    Status last = Status::unavailable("not tried");
    ASSERT_TRUE(eventually([&] {
        const int l = leader();
        if (l == 0) return false;
        last = nodes_[l]->host->change_membership(kGroup, voters, {NodeId{4}}, 5s);
        return last.is_ok();
    })) << last.to_string();
    EXPECT_TRUE(eventually([&] { return nodes_[4]->sm.items() == "base1,base2,m0"; }))
        << nodes_[4]->sm.items();
    EXPECT_GE(nodes_[4]->sm.installs(), 1);

    // A restart of an initial member comes back from the base snapshot's
    // file and the WAL, with the same state.
    stop(2);
    start(2, /*initial_member=*/false);
    ASSERT_TRUE(nodes_[2]->host->add_group_running(kGroup, nodes_[2]->sm, voters).is_ok());
    ASSERT_TRUE(propose("m1").is_ok());
    EXPECT_TRUE(eventually([&] { return nodes_[2]->sm.items() == "base1,base2,m0,m1"; }))
        << nodes_[2]->sm.items();
}

TEST_F(HostTest, MembershipChangeMovesTheGroupToANewNode) {
    options_.snapshot_entries = 5;
    options_.trailing_entries = 2;
    for (int i = 1; i <= 3; ++i) start(i);
    std::string want;
    for (int k = 0; k < 12; ++k) {
        ASSERT_TRUE(propose("m" + std::to_string(k)).is_ok());
        want += (k ? ",m" : "m") + std::to_string(k);
    }
    ASSERT_TRUE(nodes_[leader()]->host->compact(kGroup).is_ok());

    start(4, /*initial_member=*/false);
    ASSERT_TRUE(nodes_[4]->host->add_group_running(kGroup, nodes_[4]->sm).is_ok());
    EXPECT_EQ(nodes_[4]->host->add_group_running(kGroup, nodes_[4]->sm).code(),
              Errc::already_exists);
    const std::set<NodeId> old_voters = {NodeId{1}, NodeId{2}, NodeId{3}};
    // Each change is retried while the previous one (or an election) is
    // still in progress, as the placement executor does.
    auto change = [&](std::set<NodeId> voters, std::set<NodeId> learners) {
        Status last = Status::unavailable("not tried");
        eventually([&] {
            const int l = leader();
            if (l == 0) return false;
            last = nodes_[l]->host->change_membership(kGroup, voters, learners, 5s);
            return last.is_ok();
        });
        return last;
    };
    Status s = change(old_voters, {NodeId{4}});
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_TRUE(eventually([&] { return nodes_[4]->sm.items() == want; })) << nodes_[4]->sm.items();
    EXPECT_GE(nodes_[4]->sm.installs(), 1);  // behind the compacted log: a snapshot
    // A learner never counts for a quorum: it is listed as a non-voter.
    const auto st = nodes_[leader()]->host->status(kGroup);
    bool learner_listed = false;
    for (const auto& r : st.replicas)
        if (r.node == NodeId{4}) learner_listed = !r.voter;
    EXPECT_TRUE(learner_listed);

    s = change({NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}}, {});
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    s = change({NodeId{2}, NodeId{3}, NodeId{4}}, {});
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    // Nodes 1 and 2 go: 3 and 4 are a majority of {2, 3, 4}.
    stop(1);
    stop(2);
    ASSERT_TRUE(propose("after").is_ok());
    EXPECT_TRUE(eventually([&] { return nodes_[4]->sm.items() == want + ",after"; }))
        << nodes_[4]->sm.items();
    // A follower refuses to change the membership.
    const int follower = leader() == 3 ? 4 : 3;
    EXPECT_EQ(
        nodes_[follower]->host->change_membership(kGroup, {NodeId{3}, NodeId{4}}, {}, 2s).code(),
        Errc::not_leader);
}

TEST_F(HostTest, ALeaderThatRemovesItselfAnswersTheProposalsItCommitted) {
    for (int i = 1; i <= 3; ++i) start(i);
    ASSERT_TRUE(propose("first").is_ok());
    const int l = leader();
    ASSERT_NE(l, 0);
    ListMachine& behind = nodes_[l]->sm;
    behind.hold(true);
    struct Release {
        ListMachine& m;
        ~Release() { m.hold(false); }
    } release{behind};
    auto answer =
        std::async(std::launch::async, [&] { return nodes_[l]->host->propose(kGroup, "p", 20s); });
    // Committed (both followers applied it), not yet applied on the leader.
    std::set<NodeId> others;
    for (int i = 1; i <= 3; ++i)
        if (i != l) others.insert(NodeId{static_cast<uint64_t>(i)});
    ASSERT_TRUE(eventually([&] {
        for (NodeId n : others)
            if (nodes_[static_cast<int>(n.value())]->sm.items() != "first,p") return false;
        return true;
    }));
    // The leader takes itself out of the group and steps down once that
    // commits; its own wait for the change to apply here times out.
    (void)nodes_[l]->host->change_membership(kGroup, others, {}, 200ms);
    ASSERT_TRUE(eventually([&] {
        const int now = leader();
        return now != 0 && now != l;
    }));
    behind.hold(false);
    auto r = answer.get();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(*r, "applied p");
}

}  // namespace
}  // namespace cleave::multiraft
