#pragma once
// The tuning every cluster member takes, shared by `cleave server` (and
// `cleave gateway`), which applies it, and `cleave local`, which passes it
// on to each node it starts: the same flags, the same defaults, one place.

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace cleave::cli {

struct ClusterTuning {
    uint64_t snapshot_entries = 10000;  // applied entries between snapshots of a shard
    uint64_t log_window = 1000;         // entries kept behind a snapshot
    int64_t tick_ms = 100;              // Raft tick
    size_t replicas = 3;                // voters per data shard (the first N members)
    size_t meta_replicas = 3;           // voters of the meta shard
    int64_t down_after_ms = 30000;      // a silent node counts as down after this
    std::string placement = "on";       // re-replication and balancing by the meta leader
    uint64_t split_bytes = 0;           // split a data shard past this many bytes; 0 = by hand
    double split_writes_per_s = 0;      // split a data shard past this write rate; 0 = never
};

void add_cluster_tuning_options(CLI::App& cmd, ClusterTuning& t);
// The same tuning as `cleave server` arguments.
std::vector<std::string> cluster_tuning_args(const ClusterTuning& t);

}  // namespace cleave::cli
