#pragma once
// `cleave server`: one member of a cluster (a node: Raft-replicated shard,
// chunk store, node-to-node endpoint) with an S3 endpoint.
//
//   cleave server --data DIR --listen HOST:PORT --join SEEDS
//                 [--cluster-listen HOST:PORT] [--node-id N] ...
//
// SEEDS lists the cluster addresses (HOST:PORT) of the initial members, or is
// one DNS name HOST:PORT whose addresses (sorted) are the members. This
// node's id is its 1-based position in that list unless --node-id says
// otherwise; every member must be given the same list.
// Credentials: as `cleave dev`. The cluster secret that authenticates nodes
// to each other: $CLEAVE_CLUSTER_SECRET.
//
// `cleave gateway --listen HOST:PORT --join SEEDS [--data DIR]` runs the same
// process as a standalone gateway: no member (it is not in SEEDS, hosts no
// replica, registers nothing), it dials the members and serves S3 through
// them. Any number may run; one restarted (even on an empty --data) loses
// nothing, its data dir only holds transient copies of chunks.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/cluster_options.h"
#include "cli/dev_command.h"

namespace cleave::cli {

struct ServerOptions {
    DevOptions base;             // data, listen, engine, credentials, logging, GC
    std::string cluster_listen;  // default: the --listen host, port + 1
    std::string join;
    uint64_t node_id = 0;  // 0 = from the position in --join
    ClusterTuning tuning;
    bool gateway = false;  // `cleave gateway`: no member, S3 only
};

void add_server_options(CLI::App& cmd, ServerOptions& options);

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_server(const ServerOptions& options);

}  // namespace cleave::cli
