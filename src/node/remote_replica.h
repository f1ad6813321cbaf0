#pragma once
// RemoteReplica: the shard::Replica of a node that holds no replica of the
// shard — a gateway. Proposals go to the leader (the last one a replica
// named, or each replica in turn until one names it); reads need no barrier
// here because the RemoteEngine they go through passes one on the replica
// that answers each of them.
//
// Retries follow RaftReplica's rule: a proposal answered not_leader, or one
// that never left this node (no connection), was certainly not applied and
// is retried until the deadline; any other failure may hide an applied
// command and is returned as is.

#include <atomic>
#include <chrono>
#include <functional>
#include <vector>

#include "common/strong_id.h"
#include "node/remote.h"
#include "shard/replica.h"

namespace cleave::node {

class RemoteReplica final : public shard::Replica {
  public:
    // The leader may turn out to be this very node (a replica moved here
    // while it served as a gateway): `here` proposes locally then.
    using LocalPropose = std::function<Result<std::string>(const std::string& command)>;
    RemoteReplica(Remote& remote, GroupId group, std::function<std::vector<uint64_t>()> replicas,
                  uint64_t self = 0, LocalPropose here = nullptr,
                  std::chrono::milliseconds propose_timeout = std::chrono::milliseconds(8000))
        : remote_(remote),
          group_(group),
          replicas_(std::move(replicas)),
          self_(self),
          here_(std::move(here)),
          propose_timeout_(propose_timeout) {}

    Result<shard::ApplyOutcome> propose(shard::Command command) override;
    Status read_barrier() override { return Status::ok(); }

  private:
    Remote& remote_;
    const GroupId group_;
    const std::function<std::vector<uint64_t>()> replicas_;
    const uint64_t self_;
    const LocalPropose here_;
    const std::chrono::milliseconds propose_timeout_;
    std::atomic<uint64_t> leader_{0};
};

}  // namespace cleave::node
