#include "raft/config.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace cleave::raft {
namespace {

// The largest value v such that a majority of `set` has value >= v. An empty
// set places no constraint (it is the absent half of a non-joint config).
uint64_t majority_value(const std::set<NodeId>& set, const std::function<uint64_t(NodeId)>& value) {
    if (set.empty()) return std::numeric_limits<uint64_t>::max();
    std::vector<uint64_t> v;
    v.reserve(set.size());
    for (NodeId id : set) v.push_back(value(id));
    std::sort(v.begin(), v.end(), std::greater<>());
    return v[set.size() / 2];  // the (n/2+1)-th largest
}

VoteResult single_result(const std::set<NodeId>& set, const std::map<NodeId, bool>& votes) {
    if (set.empty()) return VoteResult::won;
    size_t granted = 0, rejected = 0;
    for (NodeId id : set) {
        auto it = votes.find(id);
        if (it == votes.end()) continue;
        (it->second ? granted : rejected)++;
    }
    const size_t quorum = set.size() / 2 + 1;
    if (granted >= quorum) return VoteResult::won;
    if (set.size() - rejected < quorum) return VoteResult::lost;
    return VoteResult::pending;
}

}  // namespace

std::set<NodeId> Configuration::members() const {
    std::set<NodeId> all = voters;
    all.insert(voters_outgoing.begin(), voters_outgoing.end());
    all.insert(learners.begin(), learners.end());
    return all;
}

Index Configuration::committed_index(const std::function<Index(NodeId)>& match) const {
    auto value = [&](NodeId id) { return match(id).value(); };
    uint64_t v = std::min(majority_value(voters, value), majority_value(voters_outgoing, value));
    // Both halves empty would mean a configuration without voters.
    return v == std::numeric_limits<uint64_t>::max() ? Index{} : Index{v};
}

VoteResult Configuration::vote_result(const std::map<NodeId, bool>& votes) const {
    VoteResult a = single_result(voters, votes);
    VoteResult b = single_result(voters_outgoing, votes);
    if (a == VoteResult::won && b == VoteResult::won) return VoteResult::won;
    if (a == VoteResult::lost || b == VoteResult::lost) return VoteResult::lost;
    return VoteResult::pending;
}

uint64_t Configuration::quorum_min(const std::function<uint64_t(NodeId)>& value) const {
    uint64_t v = std::min(majority_value(voters, value), majority_value(voters_outgoing, value));
    return v == std::numeric_limits<uint64_t>::max() ? 0 : v;
}

}  // namespace cleave::raft
