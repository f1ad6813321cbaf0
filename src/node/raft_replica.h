#pragma once
// RaftReplica: the shard::Replica of a cluster node. Proposals go to the
// group's leader — proposed here when this node leads, forwarded otherwise —
// and reads pass a ReadIndex barrier, so any replica serves linearizable
// reads (dissertation 6.4).
//
// Retries: a proposal answered not_leader was certainly not applied, so it is
// retried (after a short pause while an election runs) until the deadline.
// Any other failure may hide an applied command and is returned as is
// (unavailable: the client retries if it wants to).
//
// A replica removed from its group (set_left_check) stops waiting: its
// group no longer tells it of leaders or commits, so a barrier or a
// proposal waiting on it would only time out. It answers stale_epoch
// instead, and the caller routes again by the shard map.

#include <chrono>
#include <functional>

#include "common/strong_id.h"
#include "multiraft/host.h"
#include "node/remote.h"
#include "shard/replica.h"

namespace cleave::node {

struct RaftReplicaOptions {
    // Long enough for an election or two (1-2 s each), short enough that a
    // node cut off from the majority answers 503 soon.
    std::chrono::milliseconds propose_timeout{8000};
    std::chrono::milliseconds read_timeout{5000};
};

class RaftReplica final : public shard::Replica {
  public:
    RaftReplica(multiraft::Host& host, Remote& remote, NodeId self, GroupId group,
                RaftReplicaOptions options = {})
        : host_(host), remote_(remote), self_(self), group_(group), options_(options) {}

    Result<shard::ApplyOutcome> propose(shard::Command command) override;
    Status read_barrier() override;

    // The leader's side of a forwarded proposal (wire::kPropose).
    Result<std::string> propose_here(std::string command);

    // Whether this replica is no longer its group's (checked while waiting).
    void set_left_check(std::function<bool()> left) { left_ = std::move(left); }
    bool has_left() const { return left_ && left_(); }

  private:
    multiraft::Host& host_;
    Remote& remote_;
    const NodeId self_;
    const GroupId group_;
    const RaftReplicaOptions options_;
    std::function<bool()> left_;  // set before use, read only after
};

std::string forward_request(GroupId group, const std::string& command);
// Parses a kPropose request: (group, command).
Result<std::pair<GroupId, std::string>> parse_forward_request(std::string_view body);

// A forwarded proposal refused by a replica that does not lead: not_leader,
// naming the leader it knows (0: none), which the sender tries next.
Status not_leader_with_hint(NodeId leader);
NodeId leader_hint_of(const Status& status);

}  // namespace cleave::node
