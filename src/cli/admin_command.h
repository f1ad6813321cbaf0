#pragma once
// `cleave admin --endpoint URL ...`: operator requests to a cluster node,
// signed with the S3 credentials (same flags and environment as the client
// commands):
//
//   status [--json]             nodes, shards, leaders, applied indexes, lag
//   compact                     snapshot every shard of that node now
//   failpoint partition on|off  cut that node off from its peers (tests)

#include <CLI/CLI.hpp>

namespace cleave::cli {

void add_admin_commands(CLI::App& app);

}  // namespace cleave::cli
