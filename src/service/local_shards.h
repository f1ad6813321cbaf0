#pragma once
// LocalShards: the data shards of a one-node store (`cleave dev`), each with
// its own engine and LocalReplica, split in place.
//
//   DATA/engine               shard 1 (the store before any split: data
//                             directories of earlier versions open unchanged)
//   DATA/shards/<id>/engine   every later shard
//   DATA/shards/MANIFEST      the ids of the shards that exist, one per line;
//                             rewritten whole (tmp, fsync, rename, fsync dir)
//
// A split is a Split command proposed to the parent's replica: applying it,
// the parent's state machine asks this host (shard::SplitHost) for the
// child's engine, which is a checkpoint of the parent's (RocksDB: hard links,
// no copy), cut to its half by the state machine; the child is listed in the
// manifest and enters the routing table before the parent's own cut is
// written, so the upper half always has an owner that serves it. A crash
// before the manifest lists the child discards the copy (split_host.h).
//
// Automatic splits: with split_bytes (or split_writes_per_s) set, a
// background thread splits any shard whose data (shard::shard_bytes) or
// write rate (commands applied per second since the last check) passes it,
// at the key that halves its data.
// Splits need an engine that can checkpoint (rocksdb, memory): a store on
// Redis keeps one shard.
//
// Threading: table() and split() from any thread.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/shard_routing.h"
#include "shard/local_replica.h"
#include "shard/records.pb.h"
#include "shard/split_host.h"
#include "storage/open_engine.h"

namespace cleave::service {

struct LocalShardsOptions {
    std::string data_dir;
    storage::EngineOptions engine;  // kind and options; the path is per shard
    shard::LocalReplicaOptions replica;
    uint64_t split_bytes = 0;       // automatic split threshold; 0 = never
    double split_writes_per_s = 0;  // automatic split threshold of the write rate; 0 = never
    int64_t split_check_ms = 1000;  // how often the thresholds are checked
};

struct LocalShardInfo {
    shard::ShardDescriptor range;  // id, start, end, epoch
    uint64_t size_bytes = 0;
    uint64_t applied_index = 0;
};

class LocalShards final : public ShardRouting, public shard::SplitHost {
  public:
    static Result<std::unique_ptr<LocalShards>> open(LocalShardsOptions options);
    ~LocalShards() override;
    LocalShards(const LocalShards&) = delete;
    LocalShards& operator=(const LocalShards&) = delete;

    std::vector<ShardRoute> table() override;

    // Splits `shard` at `key`, or (none) where it halves the shard's data.
    // Returns the new shard's range. Errors: invalid_argument (no such shard,
    // a key outside the shard, too little data to halve),
    // precondition_failed (the engine cannot checkpoint).
    Result<shard::ShardDescriptor> split(uint64_t shard, std::optional<std::string> key);

    Result<std::vector<LocalShardInfo>> describe();

    // Stops the split thread and every replica; later proposals fail.
    void stop();
    // Makes every shard's writes durable.
    Status sync();

    // shard::SplitHost, from a parent's apply loop.
    Result<storage::Engine*> create_child(uint64_t child, storage::Engine& parent) override;
    Status child_ready(uint64_t child) override;

  private:
    struct Shard {
        std::unique_ptr<storage::Engine> engine;
        std::unique_ptr<shard::LocalReplica> replica;
        std::string start;  // as its range record said when it was opened / split off
    };

    explicit LocalShards(LocalShardsOptions options);
    Status open_all();
    std::string engine_dir(uint64_t id) const;
    Result<std::unique_ptr<storage::Engine>> open_engine_at(const std::string& dir);
    Status write_manifest(const std::vector<uint64_t>& ids);
    Result<std::vector<uint64_t>> read_manifest();
    void split_loop();

    const LocalShardsOptions options_;
    std::mutex split_mu_;  // one split at a time
    mutable std::mutex mu_;
    std::map<uint64_t, Shard> shards_;  // guarded by mu_
    std::vector<uint64_t> listed_;      // the manifest's ids; guarded by mu_
    std::map<uint64_t, std::unique_ptr<storage::Engine>> pending_;  // created, not ready; mu_
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;  // guarded by stop_mu_
    std::thread split_thread_;
    // Split thread only: each shard's applied index when last measured, and
    // when it was checked (for the write rate).
    std::map<uint64_t, uint64_t> measured_at_;
    std::map<uint64_t, std::pair<int64_t, uint64_t>> rate_mark_;  // shard -> (ms, applied)
};

}  // namespace cleave::service
