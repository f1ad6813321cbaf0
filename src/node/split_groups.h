#pragma once
// SplitGroups: the data shards a cluster node hosts because a shard it holds
// split (shard::SplitHost). Applying Split at the same log index, every
// replica of the parent copies the parent's engine (a checkpoint: hard links)
// into DATA/shards/N/engine, and the state machine cuts the copy to the
// child's half; the child's Raft group then starts on this node with the
// voters the Split command names — the same set on every replica, so the
// group bootstraps like a shard at cluster start (empty log, an election).
//
//   DATA/shards/N/engine    the child's engine
//   DATA/shards/N/HOSTED    written once the child is ready: its voters, one
//                           per line; a restart hosts the group again
//
// A child directory without HOSTED is an unfinished copy (a crash in the
// middle of the split): it is discarded, and the parent's replay of Split
// makes it again.
//
// Limits today: the placement driver moves, repairs and drains only the
// first data shard; a child keeps the voters it was born with.
//
// Threading: create_child/child_ready on the parent's apply thread; find()
// and ids() from any thread.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "multiraft/host.h"
#include "node/raft_replica.h"
#include "node/remote.h"
#include "node/shard_group.h"
#include "shard/split_host.h"
#include "storage/open_engine.h"

namespace cleave::node {

struct HostedChild {
    GroupId id;
    std::unique_ptr<storage::Engine> engine;
    std::unique_ptr<ShardGroup> group;
    std::unique_ptr<RaftReplica> replica;
};

class SplitGroups final : public shard::SplitHost {
  public:
    SplitGroups(std::string data_dir, storage::EngineOptions engine, multiraft::Host& host,
                Remote& remote, NodeId self);
    ~SplitGroups() override;

    // Before the host starts: hosts every child a HOSTED file names.
    Status open_existing();

    // The child hosted here, or null.
    HostedChild* find(GroupId id);
    std::vector<GroupId> ids() const;

    Result<storage::Engine*> create_child(uint64_t child, storage::Engine& parent) override;
    Status child_ready(uint64_t child) override;

  private:
    std::string dir_of(uint64_t id) const;
    Status host(uint64_t id, std::unique_ptr<storage::Engine> engine,
                const std::set<NodeId>& voters, bool running);

    const std::string data_dir_;
    const storage::EngineOptions engine_options_;
    multiraft::Host& host_;
    Remote& remote_;
    const NodeId self_;
    mutable std::mutex mu_;
    std::map<uint64_t, std::unique_ptr<HostedChild>> children_;        // guarded by mu_
    std::map<uint64_t, std::unique_ptr<storage::Engine>> pending_;     // guarded by mu_
};

}  // namespace cleave::node
