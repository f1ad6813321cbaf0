#pragma once
// SplitGroups: the data shards a cluster node hosts besides the first one —
// born here because a shard it holds split (shard::SplitHost), or moved here
// by the placement driver (host_learner). Applying Split at the same log
// index, every
// replica of the parent copies the parent's engine (a checkpoint: hard links)
// into DATA/shards/N/engine, and the state machine cuts the copy to the
// child's half; the child's Raft group then starts on this node with the
// voters the Split command names — the same set on every replica, so the
// group bootstraps like a shard at cluster start (empty log, an election).
//
//   DATA/shards/N/engine    the child's engine
//   DATA/shards/N/HOSTED    written once the child is ready: its voters, one
//                           per line (none for a replica placement moved
//                           here: it learns them from its leader); a
//                           restart hosts the group again
//
// A child directory without HOSTED is an unfinished copy (a crash in the
// middle of the split): it is discarded, and the parent's replay of Split
// makes it again.
//
// A replica removed from its group (a move, a drain) stays hosted, idle and
// marked `left`: the node serves that shard remotely. Raft state is never
// thrown away while the group may still count it (DESIGN.md §5); if
// placement adds the node back, the old state catches up like any lagging
// replica.
//
// Threading: create_child/child_ready on the parent's apply thread; find()
// and ids() from any thread.

#include <atomic>
#include <functional>
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
    // No longer in the group's configuration or the shard map's replicas.
    std::atomic<bool> left{false};
};

class SplitGroups final : public shard::SplitHost {
  public:
    SplitGroups(std::string data_dir, storage::EngineOptions engine, multiraft::Host& host,
                Remote& remote, NodeId self, std::function<void()> on_install);
    ~SplitGroups() override;

    // Before the host starts: hosts every child a HOSTED file names.
    Status open_existing();

    // The child hosted here, or null.
    HostedChild* find(GroupId id);
    std::vector<GroupId> ids() const;

    // How a hosted replica's RaftReplica learns that it left its group (the
    // node's view: configuration and shard map). Set before any hosting.
    void set_left_check(std::function<bool(uint64_t id)> check) { left_check_ = std::move(check); }

    // Hosts shard `id` as a new, empty replica that the group's leader adds
    // as a learner and catches up by snapshot (placement's AddLearner, or a
    // child this node missed: its parent caught up past the Split by
    // snapshot). A shard already hosted here is marked a member again.
    Status host_learner(uint64_t id);

    Result<storage::Engine*> create_child(uint64_t child, storage::Engine& parent) override;
    Status child_ready(uint64_t child) override;
    // A child's group starts from a snapshot at 1 of what it inherited.
    uint64_t child_base_index() const override { return 1; }

  private:
    std::string dir_of(uint64_t id) const;
    Status host(uint64_t id, std::unique_ptr<storage::Engine> engine,
                const std::set<NodeId>& voters, bool running, bool inherited = false);

    const std::string data_dir_;
    const storage::EngineOptions engine_options_;
    multiraft::Host& host_;
    Remote& remote_;
    const NodeId self_;
    const std::function<void()> on_install_;  // chunk repair after a snapshot install
    std::function<bool(uint64_t)> left_check_;
    // Held while a replica is being made (a Split's copy, a learner's empty
    // engine): both write DATA/shards/N, and the first one wins.
    std::mutex make_mu_;
    mutable std::mutex mu_;
    std::map<uint64_t, std::unique_ptr<HostedChild>> children_;     // guarded by mu_
    std::map<uint64_t, std::unique_ptr<storage::Engine>> pending_;  // guarded by mu_
};

}  // namespace cleave::node
