#include "cli/cluster_options.h"

#include <fmt/format.h>

namespace cleave::cli {

void add_cluster_tuning_options(CLI::App& cmd, ClusterTuning& t) {
    cmd.add_option("--snapshot-entries", t.snapshot_entries,
                   "Applied log entries between snapshots of a shard (a snapshot also waits for "
                   "half the last one's size in new log bytes)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--log-window", t.log_window,
                   "Log entries kept behind a snapshot, for followers that lag a little");
    cmd.add_option("--tick-ms", t.tick_ms, "Raft tick (elections after 10-20 ticks)")
        ->check(CLI::Range(10, 10000));
    cmd.add_option("--replicas", t.replicas,
                   "Voters of each data shard: the first N members (every member must agree)")
        ->check(CLI::Range(1, 9));
    cmd.add_option("--meta-replicas", t.meta_replicas,
                   "Voters of the meta shard: the first N members (every member must agree)")
        ->check(CLI::Range(1, 9));
    cmd.add_option("--down-after-ms", t.down_after_ms,
                   "A node silent this long counts as down (registry, placement)")
        ->check(CLI::Range(int64_t{1000}, int64_t{3600000}));
    cmd.add_option("--split-bytes", t.split_bytes,
                   "Split a data shard in half once its objects hold this many bytes (the meta "
                   "shard's leader decides; needs --placement on); 0 = only by hand");
    cmd.add_option("--split-writes-per-s", t.split_writes_per_s,
                   "Split a data shard in half once it applies more writes per second than "
                   "this (measured by its leader); 0 = never by load")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--placement", t.placement,
                   "on: the meta shard's leader re-replicates and drains data shards")
        ->check(CLI::IsMember({"on", "off"}));
}

std::vector<std::string> cluster_tuning_args(const ClusterTuning& t) {
    return {"--snapshot-entries",
            std::to_string(t.snapshot_entries),
            "--log-window",
            std::to_string(t.log_window),
            "--tick-ms",
            std::to_string(t.tick_ms),
            "--replicas",
            std::to_string(t.replicas),
            "--meta-replicas",
            std::to_string(t.meta_replicas),
            "--down-after-ms",
            std::to_string(t.down_after_ms),
            "--split-bytes",
            std::to_string(t.split_bytes),
            "--split-writes-per-s",
            fmt::format("{}", t.split_writes_per_s),
            "--placement",
            t.placement};
}

}  // namespace cleave::cli
