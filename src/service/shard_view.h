#pragma once
// ShardView: one request's picture of the data shards — the routing table as
// it was when the request began. Reads go to the engine it offers: a
// RoutedEngine over all of them, which refuses a route a split made stale
// (stale_epoch) instead of answering from the wrong shard — also with one
// shard in the table, which on a cluster may predate a split.
//
// Threading: one request's; not shared.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/shard_routing.h"
#include "shard/command_keys.h"
#include "shard/routed_engine.h"

namespace cleave::service {

class ShardView {
  public:
    explicit ShardView(std::vector<ShardRoute> table);

    storage::Engine& engine();
    // The shard that owns `pk`.
    const ShardRoute& route(std::string_view pk) const;
    const std::vector<ShardRoute>& table() const { return table_; }
    // Read barriers: the shard of one key, or every shard (listings).
    Status barrier(std::string_view pk) const;
    Status barrier_all() const;

  private:
    std::vector<ShardRoute> table_;
    std::unique_ptr<shard::RoutedEngine> routed_;
};

}  // namespace cleave::service
