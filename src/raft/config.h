#pragma once
// Cluster membership and quorum arithmetic (dissertation chapter 4).
// During joint consensus (4.3) every decision — election and commitment —
// needs separate majorities of both the old and the new voter sets.

#include <functional>
#include <map>
#include <set>

#include "common/strong_id.h"

namespace cleave::raft {

enum class VoteResult { pending, won, lost };

struct Configuration {
    std::set<NodeId> voters;           // C_new, or the only voter set when not joint
    std::set<NodeId> voters_outgoing;  // C_old while joint (4.3); empty otherwise
    std::set<NodeId> learners;         // receive the log, never vote (4.2.1)

    bool joint() const { return !voters_outgoing.empty(); }
    bool is_voter(NodeId id) const { return voters.count(id) > 0 || voters_outgoing.count(id) > 0; }
    bool is_learner(NodeId id) const { return learners.count(id) > 0 && !is_voter(id); }
    bool contains(NodeId id) const { return is_voter(id) || learners.count(id) > 0; }
    // Every node the leader replicates to.
    std::set<NodeId> members() const;

    // Largest index that a majority of each voter set has matched.
    Index committed_index(const std::function<Index(NodeId)>& match) const;
    // Outcome of an election given the votes received so far (true = granted).
    VoteResult vote_result(const std::map<NodeId, bool>& votes) const;
    // Largest `round` value that a majority of each voter set has reached.
    uint64_t quorum_min(const std::function<uint64_t(NodeId)>& value) const;

    bool operator==(const Configuration&) const = default;
};

}  // namespace cleave::raft
