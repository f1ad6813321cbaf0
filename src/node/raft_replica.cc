#include "node/raft_replica.h"

#include <thread>

#include "multiraft/wire.h"
#include "node/shard_group.h"
#include "shard/record_keys.h"

namespace cleave::node {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
// The pause between attempts while the group has no (known) leader.
constexpr milliseconds kElectionPause{50};
// How long one ReadIndex attempt may take before it is asked again.
constexpr milliseconds kReadAttempt{1000};

milliseconds left(Clock::time_point deadline) {
    return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}
}  // namespace

std::string forward_request(GroupId group, const std::string& command) {
    std::string out(1, multiraft::wire::kPropose);
    out += shard::keys::be64(group.value());
    out += command;
    return out;
}

Result<std::pair<GroupId, std::string>> parse_forward_request(std::string_view body) {
    if (body.size() < 9) return Status::invalid_argument("short proposal");
    return std::make_pair(GroupId{shard::keys::parse_be64(body.substr(1, 8))},
                          std::string(body.substr(9)));
}

namespace {
constexpr std::string_view kHintTag = "leader=";
}  // namespace

Status not_leader_with_hint(NodeId leader) {
    return Status(Errc::not_leader, fmt::format("not the leader; {}{}", kHintTag, leader.value()));
}

NodeId leader_hint_of(const Status& status) {
    if (status.code() != Errc::not_leader) return NodeId{0};
    const auto at = status.message().rfind(kHintTag);
    if (at == std::string::npos) return NodeId{0};
    uint64_t v = 0;
    for (size_t i = at + kHintTag.size(); i < status.message().size(); ++i) {
        const char c = status.message()[i];
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return NodeId{v};
}

Result<std::string> RaftReplica::propose_here(std::string command) {
    auto r = host_.propose(group_, std::move(command), options_.propose_timeout);
    if (!r.is_ok() && r.status().code() == Errc::not_leader)
        return not_leader_with_hint(host_.leader(group_));
    return r;
}

Result<shard::ApplyOutcome> RaftReplica::propose(shard::Command command) {
    const std::string bytes = command.SerializeAsString();
    const auto deadline = Clock::now() + options_.propose_timeout;
    while (true) {
        const NodeId leader = host_.leader(group_);
        Result<std::string> r = Status(Errc::not_leader, "no leader known");
        if (leader == self_) {
            r = host_.propose(group_, bytes, std::max(left(deadline), milliseconds(1)));
        } else if (leader.value() != 0) {
            bool sent = false;
            r = remote_.call_if_connected(leader.value(), forward_request(group_, bytes),
                                          std::max(left(deadline), milliseconds(1)), &sent);
            // Not sent (the leader's connection is down: it may have died):
            // safe to retry once an election tells us the next leader.
            if (!sent) r = Status(Errc::not_leader, r.status().message());
            // The node this one last saw leading no longer hosts the group
            // (moved away): not applied; wait for the next leader.
            if (!r.is_ok() && r.status().code() == Errc::not_found)
                r = Status(Errc::not_leader, r.status().message());
        }
        if (r.is_ok()) return decode_outcome(*r);
        if (r.status().code() != Errc::not_leader || left(deadline) <= kElectionPause)
            return r.status();
        if (has_left())
            return Status(Errc::stale_epoch,
                          fmt::format("this replica left shard {}", group_.value()));
        std::this_thread::sleep_for(kElectionPause);
    }
}

Status RaftReplica::read_barrier() {
    const auto deadline = Clock::now() + options_.read_timeout;
    while (true) {
        // A read is safe to repeat: short attempts, so that a read index
        // asked of a leader that just died is soon asked of the next one.
        const milliseconds attempt = std::min(left(deadline), kReadAttempt);
        Status s = host_.read_barrier(group_, std::max(attempt, milliseconds(1)));
        if (s.is_ok() || s.code() == Errc::aborted || left(deadline) <= kElectionPause) return s;
        if (has_left())
            return Status(Errc::stale_epoch,
                          fmt::format("this replica left shard {}", group_.value()));
        if (s.code() == Errc::not_leader) std::this_thread::sleep_for(kElectionPause);
    }
}

}  // namespace cleave::node
