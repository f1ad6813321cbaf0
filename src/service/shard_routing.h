#pragma once
// ShardRouting: the data shards an object service reaches, and where each
// one's state and log are. The service routes every command and read by the
// placement key it touches (DESIGN.md §3–4); a shard that no longer owns a
// key (a split moved it) answers stale_epoch, and the service calls
// refresh() and tries again with the new table.
//
//   SingleShard   one shard owning every key (the store before any split).
//
// Threading: table() and refresh() from any thread.

#include <memory>
#include <string>
#include <vector>

#include "shard/replica.h"
#include "storage/engine.h"

namespace cleave::service {

struct ShardRoute {
    uint64_t id = 0;
    std::string start;  // placement-key range [start, end); "" = unbounded
    std::string end;
    storage::Engine* engine = nullptr;  // the shard's state (a replica's, or a remote view)
    shard::Replica* replica = nullptr;  // proposals and read barriers
    // The engine refuses reads its shard does not own by itself (a remote
    // view whose replica checks in its own snapshot).
    bool checks_owner = false;
};

class ShardRouting {
  public:
    virtual ~ShardRouting() = default;
    // The table as now known: sorted by start, disjoint, covering every key.
    // The engines and replicas stay valid while the service runs.
    virtual std::vector<ShardRoute> table() = 0;
    // A shard answered stale_epoch: learn the table anew before the retry.
    virtual void refresh() {}
};

class SingleShard final : public ShardRouting {
  public:
    SingleShard(storage::Engine& engine, shard::Replica& replica)
        : route_{1, "", "", &engine, &replica} {}
    std::vector<ShardRoute> table() override { return {route_}; }

  private:
    const ShardRoute route_;
};

}  // namespace cleave::service
