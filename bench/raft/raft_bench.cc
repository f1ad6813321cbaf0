// Proposals per second through a 3-node Raft group, with the host loop
// done in memory: "persisting" is a no-op, messages are delivered at once in
// FIFO order, committed entries are counted as applied. This measures the
// core's own cost (replication, flow control, commitment), so later changes
// to src/raft can be compared. Run: build/bench/raft/raft_bench

#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <memory>

#include "common/random.h"
#include "raft/fsm.h"

namespace cleave::raft {
namespace {

class Group {
  public:
    explicit Group(uint32_t max_entries_per_message) {
        std::set<NodeId> voters{NodeId{1}, NodeId{2}, NodeId{3}};
        for (NodeId id : voters) {
            RaftOptions o;
            o.id = id;
            o.group = GroupId{1};
            o.max_entries_per_message = max_entries_per_message;
            o.max_inflight_messages = 64;
            o.snapshot_trailing_entries = 64;
            auto snap = std::make_shared<Snapshot>();
            snap->meta.config.voters = voters;
            PersistentState ps;
            ps.snapshot = snap;
            rngs_[id] = std::make_unique<Random>(id.value());
            fsms_[id] = std::make_unique<Fsm>(o, *rngs_[id], std::move(ps));
        }
        fsms_[NodeId{1}]->campaign();
        pump();
    }

    Fsm& leader() { return *fsms_[NodeId{1}]; }

    // Runs every node's host loop and delivers messages until quiet.
    void pump() {
        while (true) {
            bool any = false;
            for (auto& [id, f] : fsms_) any |= process(*f);
            if (queue_.empty() && !any) return;
            while (!queue_.empty()) {
                Message m = std::move(queue_.front());
                queue_.pop_front();
                Fsm& to = *fsms_[m.to];
                to.step(std::move(m));
                process(to);
            }
        }
    }

    // Keeps the in-memory logs bounded, as a host's snapshots would.
    void compact() {
        for (auto& [id, f] : fsms_) {
            const Index applied = f->log().applied();
            if (applied.value() > f->log().snapshot()->meta.index.value() + 4096)
                f->take_snapshot(applied, std::string()).status().ignore();
        }
    }

    uint64_t applied = 0;

  private:
    bool process(Fsm& f) {
        bool any = false;
        while (f.has_ready()) {
            any = true;
            Ready r = f.get_ready();
            for (auto& m : r.messages) queue_.push_back(std::move(m));
            if (f.id() == NodeId{1}) applied += r.committed.size();
            f.advance(r);
        }
        return any;
    }

    std::map<NodeId, std::unique_ptr<Random>> rngs_;
    std::map<NodeId, std::unique_ptr<Fsm>> fsms_;
    std::deque<Message> queue_;
};

// Arg 0: proposals per round before the group is pumped (client batching).
// Arg 1: max entries per append message.
void BM_ProposeThreeNodes(benchmark::State& state) {
    const auto per_round = static_cast<int>(state.range(0));
    Group g(static_cast<uint32_t>(state.range(1)));
    const std::string command(64, 'x');
    uint64_t proposals = 0;
    for (auto _ : state) {
        for (int i = 0; i < per_round; ++i) {
            auto r = g.leader().propose(command);
            if (!r.is_ok()) state.SkipWithError("propose failed");
        }
        g.pump();
        g.compact();
        proposals += static_cast<uint64_t>(per_round);
    }
    state.SetItemsProcessed(static_cast<int64_t>(proposals));
    state.counters["applied"] = static_cast<double>(g.applied);
}
BENCHMARK(BM_ProposeThreeNodes)->Args({1, 64})->Args({16, 64})->Args({256, 64})->Args({256, 1});

// Linearizable reads through ReadIndex on the leader (one heartbeat round each).
void BM_ReadIndexThreeNodes(benchmark::State& state) {
    Group g(64);
    uint64_t id = 0;
    for (auto _ : state) {
        g.leader().read_index(++id).ignore();
        g.pump();
    }
    state.SetItemsProcessed(static_cast<int64_t>(id));
}
BENCHMARK(BM_ReadIndexThreeNodes);

}  // namespace
}  // namespace cleave::raft
