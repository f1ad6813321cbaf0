#pragma once
// NodeRouting: the data shards as a cluster node's object service reaches
// them (service::ShardRouting): the shard map's descriptors, each through
// this node's own path when it has one (the first data shard's ServingPath,
// a split-off shard hosted here), else remotely — a RemoteEngine and a
// RemoteReplica per shard, asking the replicas the map names.
//
// The map is the one the node last read (refresh_shard_map); refresh() reads
// it again, which is what a stale_epoch answer asks for.
//
// Threading: table() and refresh() from any thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "node/remote.h"
#include "node/remote_engine.h"
#include "node/remote_replica.h"
#include "service/shard_routing.h"
#include "shard/records.pb.h"

namespace cleave::node {

struct NodeRoutingHooks {
    // The data shards of the shard map as last read (empty before the first).
    std::function<std::vector<shard::ShardDescriptor>()> cached_map;
    // Reads the shard map again.
    std::function<void()> refresh;
    // This node's own way to shard `id`, if it has one.
    std::function<std::optional<service::ShardRoute>(uint64_t id)> local;
    // Proposes on this node's replica of shard `id` (the leader a remote
    // route is pointed to may be this very node: a replica moved here that
    // the map does not list yet); not_leader when it has none.
    std::function<Result<std::string>(uint64_t id, const std::string& command)> propose_here;
};

class NodeRouting final : public service::ShardRouting {
  public:
    NodeRouting(Remote& remote, ReadSpreader& spreader, uint64_t self, NodeRoutingHooks hooks);
    std::vector<service::ShardRoute> table() override;
    void refresh() override { hooks_.refresh(); }

  private:
    struct RemoteShard {
        std::unique_ptr<RemoteEngine> engine;
        std::unique_ptr<RemoteReplica> replica;
    };
    RemoteShard& remote_shard(uint64_t id);
    std::vector<uint64_t> replicas_of(uint64_t id);

    Remote& remote_;
    ReadSpreader& spreader_;
    const uint64_t self_;
    const NodeRoutingHooks hooks_;
    std::mutex mu_;
    std::map<uint64_t, std::unique_ptr<RemoteShard>> remote_shards_;  // never removed; mu_
    std::map<uint64_t, std::vector<uint64_t>> replicas_;              // by the last map; mu_
};

}  // namespace cleave::node
