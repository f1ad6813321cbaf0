#pragma once
// `cleave local --nodes N --data DIR --s3-port P`: a real N-process cluster on
// one machine, for trying Cleave out and for tests. Node k (1..N) is a
// `cleave server` with --data DIR/nodek, S3 on 127.0.0.k:P and its cluster
// endpoint on 127.0.0.k:P+1 (Linux routes all of 127/8 to loopback).
//
//   DIR/nodek/pid           the node's process id (written by the node)
//   DIR/nodek/cmdline       its argv as a JSON array, to restart it by hand
//   DIR/nodek/env.json      the environment it needs besides (credentials,
//                           cluster secret)
//   DIR/nodek/log           its output
//
// Prints `ready: S3 endpoints ...` once every node answers /_cleave/health.
// SIGTERM or SIGINT stops every node (whose pid files name them), then exits.
// A node that dies is not restarted: the others keep running.

#include <string>

#include <CLI/CLI.hpp>

#include "cli/cluster_options.h"

namespace cleave::cli {

struct LocalOptions {
    unsigned nodes = 3;
    std::string data_dir = "./cleave-local";
    unsigned s3_port = 9000;
    std::string engine = "rocksdb";
    std::string log_level = "info";
    ClusterTuning tuning;  // passed on to every node
    double ready_timeout_s = 60;
};

void add_local_options(CLI::App& cmd, LocalOptions& options);
int run_local(const LocalOptions& options);

}  // namespace cleave::cli
