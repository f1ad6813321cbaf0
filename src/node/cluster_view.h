#pragma once
// The cluster as the meta shard records it, read from a meta shard replica's
// engine (or a gateway's remote view of one): the node registry with each
// node's liveness by heartbeat age, the shard map, and the latest size and
// load each shard's leader reported. Feeds `cleave admin shards` and the
// placement driver (meta/placement_driver.h), whose plan `cleave admin plan`
// shows.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/placement_driver.h"
#include "shard/records.pb.h"
#include "storage/engine.h"

namespace cleave::node {

struct ClusterView {
    std::vector<shard::NodeRecord> nodes;
    std::map<uint64_t, bool> live;  // node -> heard from within down_after_ms
    std::vector<shard::ShardDescriptor> shards;
    std::map<uint64_t, shard::ShardLoad> loads;  // shard -> latest leader report
};

Result<ClusterView> read_cluster_view(storage::Engine& meta_engine, int64_t now_ms,
                                      int64_t down_after_ms);

// The placement driver's input: voters from the shard map (learners are not
// recorded there yet), sizes and loads from the leaders' reports.
meta::ClusterState driver_state(const ClusterView& view);

// `cleave admin shards --json`: id, start and end (hex), epoch, replicas,
// leader (0: unknown), size_bytes, writes_per_s.
std::string shards_json(const ClusterView& view,
                        const std::function<uint64_t(uint64_t shard)>& leader_of);
// `cleave admin plan --json`: the driver's next steps, each with its reason.
std::string plan_json(const ClusterView& view, const meta::Plan& plan);

std::string json_string(std::string_view s);

}  // namespace cleave::node
