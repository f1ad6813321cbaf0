#pragma once
// One simulated node: a Raft core, its simulated disk, and the replicated
// state machine (a single register: its value is the last command applied).
// The host logic that drives them lives in Cluster.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/random.h"
#include "raft/fsm.h"
#include "sim/storage.h"

namespace cleave::sim {

// The replicated state machine: a register. A snapshot is its value plus
// the applied index.
struct Register {
    std::string value;
    Index applied;

    std::string serialize() const { return std::to_string(applied.value()) + "|" + value; }
    void restore(const std::string& data) {
        auto bar = data.find('|');
        applied = bar == std::string::npos ? Index{} : Index{std::stoull(data.substr(0, bar))};
        value = bar == std::string::npos ? std::string() : data.substr(bar + 1);
    }
};

struct SimNode {
    NodeId id;
    bool alive = false;
    uint64_t incarnation = 0;
    raft::RaftOptions options;
    std::unique_ptr<Random> rng;  // the core's own seeded source
    std::unique_ptr<raft::Fsm> fsm;
    SimStorage storage;
    Register sm;
    Index last_seen_commit;  // checker bookkeeping
    raft::Role last_role = raft::Role::follower;
    Term last_term;
    // Client operations in flight at this node (lost on crash).
    std::map<Index, std::pair<uint64_t, std::string>> pending_writes;  // index -> (op, value)
    struct PendingRead {
        uint64_t op = 0;
        std::optional<Index> index;
    };
    std::map<uint64_t, PendingRead> pending_reads;  // request id -> read
    // Asynchronous persistence: Readies written but not yet synced, with
    // what waits for them (lost on crash).
    struct InFlight {
        std::optional<raft::PersistMark> mark;
        std::vector<raft::Entry> entries;
        std::optional<Term> first_prev_term;  // as the log was when written
        std::vector<raft::Message> messages;
        bool barrier = false;  // a term or vote change, or a snapshot
    };
    std::vector<InFlight> in_flight;
};

}  // namespace cleave::sim
