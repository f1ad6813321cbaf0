#pragma once
// `cleave dev`: a one-node store (embedded engine, chunk store, S3 endpoint)
// for a laptop or a test. Zero configuration: credentials come from
// CLEAVE_ACCESS_KEY / CLEAVE_SECRET_KEY, or are generated once and kept in
// DATA/credentials.

#include <string>

#include <CLI/CLI.hpp>

namespace cleave::cli {

struct DevOptions {
    std::string data_dir = "./cleave-data";
    std::string listen = "127.0.0.1:9000";
    std::string engine = "rocksdb";
    std::string redis_url;
    bool allow_weak_durability = false;
    // Chunk cache in Redis (src/cache): empty url = none.
    std::string chunk_cache_url;
    uint64_t chunk_cache_bytes = 256ull << 20;
    std::string chunk_cache_prefix = "cleave:chunk:";
    bool chunk_cache_skip_config = false;
    std::string log_level = "info";
    std::string region = "us-east-1";
    std::vector<std::string> virtual_host_suffixes;
    int64_t gc_grace_s = 3600;
    int64_t gc_interval_s = 600;
    uint64_t split_bytes = 0;       // automatic split threshold of a shard's data; 0 = never
    double split_writes_per_s = 0;  // automatic split threshold of a shard's write rate
    int64_t split_check_ms = 1000;  // how often shards are measured against it
};

// `one_node`: with the one-node store's split options (a cluster member
// takes --split-bytes from the cluster tuning instead).
void add_dev_options(CLI::App& cmd, DevOptions& options, bool one_node = true);

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_dev(const DevOptions& options);

}  // namespace cleave::cli
