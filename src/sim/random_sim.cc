#include "sim/random_sim.h"

#include <fmt/format.h>

#include <vector>

#include "sim/cluster.h"
#include "sim/format.h"

namespace cleave::sim {
namespace {

template <typename T>
T pick(Random& rng, const std::vector<T>& v) {
    return v[rng.uniform(v.size())];
}

std::vector<NodeId> alive_nodes(Cluster& c) {
    std::vector<NodeId> out;
    for (NodeId id : c.ids())
        if (c.alive(id)) out.push_back(id);
    return out;
}

// A random cut of the nodes: symmetric, or one way only.
void random_partition(Cluster& c, Random& rng) {
    std::vector<NodeId> a, b;
    for (NodeId id : c.ids()) (rng.chance(1, 2) ? a : b).push_back(id);
    const bool one_way = rng.chance(1, 3);
    std::string desc;
    for (NodeId x : a)
        for (NodeId y : b) {
            c.network().block(x, y);
            if (!one_way) c.network().block(y, x);
        }
    for (NodeId x : a) desc += fmt::format("{} ", x);
    desc += one_way ? "-/->" : "|";
    for (NodeId y : b) desc += fmt::format(" {}", y);
    c.trace("partition " + desc);
}

void random_config_change(Cluster& c, Random& rng, NodeId leader) {
    std::vector<NodeId> pool(c.ids().begin(), c.ids().end());
    std::set<NodeId> voters, learners;
    const auto& current = c.node(leader).fsm->configuration();
    // Usually a small step (add, remove, promote, demote one node), sometimes
    // a wholesale replacement: joint consensus must handle both.
    if (rng.chance(3, 4)) {
        voters = current.voters;
        learners = current.learners;
        NodeId x = pick(rng, pool);
        switch (rng.uniform(3)) {
            case 0:
                learners.erase(x);
                voters.insert(x);
                break;
            case 1:
                voters.erase(x);
                learners.insert(x);
                break;
            default:
                voters.erase(x);
                learners.erase(x);
                break;
        }
    } else {
        for (NodeId id : pool) {
            if (rng.chance(3, 5)) {
                voters.insert(id);
            } else if (rng.chance(1, 2)) {
                learners.insert(id);
            }
        }
    }
    if (voters.empty() || voters.size() > 5) return;
    c.change_config(leader, voters, learners).status().ignore();
}

}  // namespace

std::string replay_command(uint64_t seed, const SimParams& params) {
    std::string cmd = fmt::format("cleave-sim --start {} --seeds 1 --trace", seed);
    if (params.planted_bug) cmd += fmt::format(" --planted-bug {}", params.planted_bug);
    return cmd;
}

SeedResult run_seed(uint64_t seed, const SimParams& params, std::string* trace) {
    SeedResult result;
    result.seed = seed;
    Random rng(seed);

    // --- the scenario, drawn from the seed
    ClusterOptions co;
    co.seed = seed ^ 0x5eed5eed5eedULL;
    const uint64_t voters = rng.chance(1, 2) ? 3 : 5;
    for (uint64_t i = 1; i <= voters; ++i) co.voters.insert(NodeId{i});
    for (uint64_t i = 1; i <= voters + 2; ++i) co.nodes.insert(NodeId{i});
    raft::RaftOptions& o = co.raft;
    o.group = GroupId{1};
    o.election_timeout_ticks = 10;
    o.heartbeat_interval_ticks = static_cast<uint32_t>(rng.range(1, 3));
    o.pre_vote = rng.chance(3, 4);
    o.check_quorum = rng.chance(3, 4);
    o.lease_reads = o.check_quorum && rng.chance(1, 3);
    if (o.lease_reads) {
        // Bounded clock drift: some nodes' clocks lose up to `drift` ticks in
        // any election timeout (one tick every `period`), and the lease is
        // configured with that bound.
        const uint64_t drift = static_cast<uint64_t>(rng.range(0, 3));
        o.max_clock_drift_ticks = static_cast<uint32_t>(drift);
        if (drift > 0) {
            const uint64_t period = o.election_timeout_ticks / drift + 1;
            for (NodeId id : co.nodes) {
                if (rng.chance(1, 2)) co.slow_clocks[id] = {period, rng.uniform(period)};
            }
        }
    }
    o.max_inflight_messages = static_cast<uint32_t>(rng.range(1, 8));
    o.max_entries_per_message = static_cast<uint32_t>(rng.range(1, 8));
    o.snapshot_trailing_entries = static_cast<uint64_t>(rng.range(0, 8));
    o.snapshot_threshold_entries = rng.chance(1, 2) ? static_cast<uint64_t>(rng.range(5, 50)) : 0;
#ifdef CLEAVE_PLANT_RAFT_BUGS
    o.planted_bug = static_cast<raft::PlantedBug>(params.planted_bug);
#endif
    co.crash_in_ready_per_mille = static_cast<uint32_t>(rng.range(0, 4));
    {
        // Asynchronous persistence (the node's host runs it): drawn apart
        // from `rng`, so that every other draw of a seed stays as it was.
        Random disk_rng(seed ^ 0xd15cd15cd15cULL);
        o.async_persist = disk_rng.chance(1, 2);
        co.sync_pct = static_cast<uint32_t>(disk_rng.range(5, 90));
    }
    NetworkFaults faults;
    faults.drop_per_mille = static_cast<uint32_t>(rng.range(0, 100));
    faults.duplicate_per_mille = static_cast<uint32_t>(rng.range(0, 50));
    faults.max_delay_ticks = static_cast<uint32_t>(rng.range(0, 3));
    // Leader nemesis (the randomized nemesis tests' favourite): crash or cut
    // off the current leader now and then, which is what produces Figure 8
    // histories (divergent uncommitted suffixes from several terms).
    const uint32_t leader_crash_per_mille =
        rng.chance(1, 2) ? static_cast<uint32_t>(rng.range(5, 40)) : 0;
    const uint32_t leader_isolate_per_mille =
        rng.chance(1, 2) ? static_cast<uint32_t>(rng.range(5, 40)) : 0;
    const uint32_t new_leader_isolate_pct =
        rng.chance(1, 2) ? static_cast<uint32_t>(rng.range(10, 50)) : 0;
    // Faults between two message deliveries, not only at tick boundaries: a
    // crash or a cut right after a leader acted is what opens the narrow
    // windows of Figure 8.
    const uint32_t mid_tick_fault_per_mille =
        rng.chance(2, 3) ? static_cast<uint32_t>(rng.range(5, 40)) : 0;
    const uint32_t write_pct = static_cast<uint32_t>(rng.range(10, 50));
    const uint32_t read_pct = static_cast<uint32_t>(rng.range(10, 50));

    Cluster c(co);
    c.set_trace(trace);
    c.network().set_faults(faults);
    bool nemesis_on = true;
    c.set_on_leader([&](NodeId leader, Term term) {
        if (!nemesis_on || !rng.chance(new_leader_isolate_pct, 100)) return;
        // Cut the new leader off from some or all peers before its no-op
        // (and anything after it) reaches them.
        std::string cut;
        for (NodeId id : c.ids()) {
            if (id == leader || rng.chance(1, 3)) continue;
            c.network().block(leader, id);
            c.network().block(id, leader);
            cut += fmt::format(" {}", id);
        }
        c.trace(fmt::format("isolate new leader {} of t{} from{}", leader, term, cut));
    });
    const std::string options_desc = fmt::format(
        "voters={} hb={} prevote={} checkquorum={} lease={} drift={} slow_clocks={} inflight={} "
        "batch={} trailing={} snap_every={} "
        "drop={}pm dup={}pm delay<={} crash_in_ready={}pm leader_crash={}pm leader_isolate={}pm "
        "new_leader_isolate={}% mid_tick_fault={}pm async_persist={} sync={}%",
        voters, o.heartbeat_interval_ticks, o.pre_vote, o.check_quorum, o.lease_reads,
        o.max_clock_drift_ticks, co.slow_clocks.size(), o.max_inflight_messages,
        o.max_entries_per_message, o.snapshot_trailing_entries, o.snapshot_threshold_entries,
        faults.drop_per_mille, faults.duplicate_per_mille, faults.max_delay_ticks,
        co.crash_in_ready_per_mille, leader_crash_per_mille, leader_isolate_per_mille,
        new_leader_isolate_pct, mid_tick_fault_per_mille, o.async_persist, co.sync_pct);
    c.trace("seed " + std::to_string(seed) + ": " + options_desc);

    uint64_t writes = 0;
    auto next_value = [&] { return fmt::format("w{}", ++writes); };
    const size_t max_deliveries_per_tick = 20000;

    // --- faulty phase
    for (uint32_t t = 0; t < params.fault_ticks && !c.checker().failed(); ++t) {
        c.trace(fmt::format("-- tick {}", c.now()));
        auto alive = alive_nodes(c);
        const NodeId leader = c.leader();
        if (!alive.empty() && rng.chance(write_pct, 100)) {
            NodeId at = leader != NodeId{} && rng.chance(3, 4) ? leader : pick(rng, alive);
            c.propose(at, next_value()).status().ignore();
        }
        if (!alive.empty() && rng.chance(read_pct, 100)) c.read(pick(rng, alive)).ignore();
        if (!alive.empty() && rng.chance(1, 100)) c.crash(pick(rng, alive));
        if (leader != NodeId{} && rng.chance(leader_crash_per_mille, 1000)) c.crash(leader);
        if (leader != NodeId{} && rng.chance(leader_isolate_per_mille, 1000)) {
            for (NodeId id : c.ids()) {
                if (id == leader) continue;
                c.network().block(leader, id);
                c.network().block(id, leader);
            }
            c.trace(fmt::format("isolate leader {}", leader));
        }
        if (rng.chance(4, 100)) {
            std::vector<NodeId> dead;
            for (NodeId id : c.ids())
                if (!c.alive(id)) dead.push_back(id);
            if (!dead.empty()) c.restart(pick(rng, dead));
        }
        if (rng.chance(15, 1000)) random_partition(c, rng);
        if (c.network().partitioned() && rng.chance(3, 100)) {
            c.network().heal();
            c.trace("heal");
        }
        if (leader != NodeId{} && c.alive(leader) && rng.chance(1, 100))
            random_config_change(c, rng, leader);
        if (leader != NodeId{} && c.alive(leader) && rng.chance(5, 1000)) {
            const auto& cfg = c.node(leader).fsm->configuration();
            std::vector<NodeId> voters_v(cfg.voters.begin(), cfg.voters.end());
            if (!voters_v.empty()) c.transfer(leader, pick(rng, voters_v)).ignore();
        }
        if (!alive.empty() && rng.chance(5, 100)) c.snapshot(pick(rng, alive)).ignore();
        for (size_t n = 0; n < max_deliveries_per_tick && c.deliver_one(); ++n) {
            if (!rng.chance(mid_tick_fault_per_mille, 1000)) continue;
            const NodeId l = c.leader();
            const auto live = alive_nodes(c);
            if (live.empty()) break;
            switch (rng.uniform(3)) {
                case 0:
                    c.crash(l != NodeId{} ? l : pick(rng, live));
                    break;
                case 1:
                    c.crash(pick(rng, live));
                    break;
                default: {
                    const NodeId x = l != NodeId{} && rng.chance(1, 2) ? l : pick(rng, live);
                    for (NodeId id : c.ids()) {
                        if (id == x) continue;
                        c.network().block(x, id);
                        c.network().block(id, x);
                    }
                    c.trace(fmt::format("isolate {}", x));
                }
            }
        }
        c.tick_all();
        c.advance_time();
    }

    // --- heal, then the group must recover and commit a new write everywhere
    if (!c.checker().failed()) {
        c.trace("-- heal all faults");
        nemesis_on = false;
        c.network().heal();
        c.network().set_faults({});
        c.options().crash_in_ready_per_mille = 0;
        for (NodeId id : c.ids()) c.restart(id);
        Index final_index;  // Index{} = none yet
        std::string final_value;
        NodeId final_at;
        Term final_term;
        bool done = false;
        uint32_t t = 0;
        for (; t < params.liveness_ticks && !done && !c.checker().failed(); ++t) {
            const NodeId leader = c.leader();
            // (Re)propose whenever there is no attempt in the current
            // leader's term: an attempt in an earlier term may have been lost.
            if (leader != NodeId{} && (final_index == Index{} || final_at != leader ||
                                       final_term != c.node(leader).fsm->term())) {
                const std::string value = next_value();
                auto r = c.propose(leader, value);
                if (r.is_ok()) {
                    final_index = *r;
                    final_value = value;
                    final_at = leader;
                    final_term = c.node(leader).fsm->term();
                }
            }
            c.deliver_all(max_deliveries_per_tick);
            c.tick_all();
            c.advance_time();
            if (final_index == Index{} || leader == NodeId{}) continue;
            // Done when the write committed at its index and every member
            // of the leader's configuration applied it.
            auto it = c.checker().committed().find(final_index);
            if (it == c.checker().committed().end() || it->second.data != final_value) {
                if (it != c.checker().committed().end()) final_index = Index{};  // lost: retry
                continue;
            }
            const NodeId l = c.leader();
            if (l == NodeId{}) continue;
            done = true;
            for (NodeId id : c.node(l).fsm->configuration().members()) {
                if (c.node(id).sm.applied < final_index) done = false;
            }
        }
        if (!done && !c.checker().failed()) {
            std::string status;
            for (NodeId id : c.ids()) status += "\n  " + format_status(*c.node(id).fsm);
            c.checker().fail(fmt::format(
                "liveness: no write committed and applied by all members within {} ticks after "
                "healing{}",
                params.liveness_ticks, status));
        }
        if (done && !c.checker().failed()) {
            // Every member converged on the same state.
            const NodeId l = c.leader();
            for (NodeId id : c.node(l).fsm->configuration().members()) {
                if (c.node(id).sm.applied >= final_index &&
                    c.node(id).sm.value != c.node(l).sm.value &&
                    c.node(id).sm.applied == c.node(l).sm.applied)
                    c.checker().fail(fmt::format("nodes {} and {} diverged at applied index {}", id,
                                                 l, c.node(id).sm.applied));
            }
        }
        c.checker().check_history();
    }

    result.ok = !c.checker().failed();
    result.failure = c.checker().failure();
    result.summary = fmt::format("{} | writes acked={} reads={} committed={}", options_desc,
                                 c.checker().writes_acked(), c.checker().reads_returned(),
                                 c.checker().committed().size());
    c.trace(result.ok ? "ok" : "VIOLATION: " + result.failure);
    return result;
}

}  // namespace cleave::sim
