#pragma once
// A whole Raft group in one process: nodes, network, disks and the oracle,
// on one logical clock, all randomness from one seeded Random. Both the
// randomized runs (random_sim.h) and the data-driven tests (interaction.h)
// drive a Cluster; it plays the host's part for every node (ready.h order:
// persist, sync, send, apply, serve reads) and feeds the Checker.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/random.h"
#include "common/status.h"
#include "raft/fsm.h"
#include "sim/checker.h"
#include "sim/network.h"
#include "sim/node.h"

namespace cleave::sim {

struct ClusterOptions {
    uint64_t seed = 1;
    raft::RaftOptions raft;   // per-node id is filled in
    std::set<NodeId> voters;  // bootstrapped with this configuration
    std::set<NodeId> nodes;   // every node; those not in voters start empty
    // Chance of a power loss between writing a Ready and syncing it.
    uint32_t crash_in_ready_per_mille = 0;
    bool reorder = true;  // deliver due messages in random order (else FIFO)
    // Asynchronous persistence (raft/ready.h) when raft.async_persist is set:
    // a node's writes stay unsynced, with the messages that vouch for them,
    // until its disk finishes them: after a message is stepped with this
    // chance, and before every tick.
    uint32_t sync_pct = 50;
    // Slow clocks (lease safety under bounded drift, 6.4.1): node -> (period,
    // phase); tick_all() skips the node's tick when now % period == phase.
    std::map<NodeId, std::pair<uint64_t, uint64_t>> slow_clocks;
};

class Cluster {
  public:
    explicit Cluster(ClusterOptions options);
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    // Every event is appended to `out` as one line when set.
    void set_trace(std::string* out);
    void trace(const std::string& line);

    Checker& checker() { return checker_; }
    Network& network() { return network_; }
    Random& rng() { return rng_; }
    ClusterOptions& options() { return options_; }
    const std::set<NodeId>& ids() const { return options_.nodes; }
    SimNode& node(NodeId id);
    bool alive(NodeId id) const;
    uint64_t now() const { return now_; }
    void advance_time() { ++now_; }

    void tick(NodeId id);
    void tick_all();
    // Delivers one due message; false if none is due.
    // With `only_to`, only messages addressed to those nodes.
    bool deliver_one(const std::set<NodeId>* only_to = nullptr);
    // Delivers due messages until none is left or `max` were delivered.
    size_t deliver_all(size_t max);

    void crash(NodeId id);
    void restart(NodeId id);

    // Client operations; failures are returned, successes recorded in the
    // checker's history and answered when applied / served.
    Result<Index> propose(NodeId id, std::string value);
    Status read(NodeId id);
    Result<Index> change_config(NodeId id, std::set<NodeId> voters, std::set<NodeId> learners);
    Status transfer(NodeId id, NodeId target);
    Status campaign(NodeId id);
    // The node snapshots its state machine at its applied index and compacts.
    Status snapshot(NodeId id);

    // Called whenever a node becomes leader, before anything else happens:
    // the nemesis uses it to cut a new leader off before its no-op spreads.
    void set_on_leader(std::function<void(NodeId, Term)> hook) { on_leader_ = std::move(hook); }

    // The live leader with the highest term, or NodeId{}.
    NodeId leader() const;
    // The last value read by Cluster::read() completions, for traces.
    const std::string& last_read_value() const { return last_read_value_; }

  private:
    void process(SimNode& n);
    // Asynchronous persistence: the disk finishes every write handed to it
    // (with the chance sync_pct, or surely with force).
    void maybe_sync(SimNode& n, bool force = false);
    void apply(SimNode& n, const raft::Entry& e);
    void serve_reads(SimNode& n);
    void observe(SimNode& n);
    void check_leases();
    void crash_node(SimNode& n, bool torn);

    ClusterOptions options_;
    Random rng_;
    Network network_;
    Checker checker_;
    std::map<NodeId, SimNode> nodes_;
    uint64_t now_ = 0;
    uint64_t next_request_id_ = 0;
    std::string* trace_ = nullptr;
    std::string last_read_value_;
    std::function<void(NodeId, Term)> on_leader_;
};

}  // namespace cleave::sim
