#pragma once
// LocalObjectService: the ObjectService of a one-node store. Metadata goes
// through one shard's LocalReplica (logged, then applied); object data goes to
// the node's chunk store first, and is durable before the metadata that
// references it is proposed — so an acknowledged object always has its bytes,
// and a crash mid-upload leaves only unreferenced chunks, which garbage
// collection removes.
//
//   PUT body ──▶ BodyWriter: MD5+SHA-256 on the fly; ≤ 64 KiB inline,
//                otherwise 4 MiB chunks → chunk store (tmp, fsync, rename)
//           ──▶ commit: EnsureDirMarker (first write into a root directory)
//                       PutObject{record with chunk list}  → log → apply
//
// Threading: all methods are thread-safe; they block on disk I/O.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "blob/chunk_replicator.h"
#include "blob/chunk_store.h"
#include "common/clock.h"
#include "service/object_service.h"
#include "service/shard_routing.h"
#include "service/shard_view.h"
#include "shard/reads.h"
#include "shard/records.pb.h"
#include "shard/replica.h"
#include "storage/engine.h"

namespace cleave::service {

struct LocalObjectServiceOptions {
    size_t inline_limit_bytes = 64 << 10;  // objects up to this size live in the metadata
    size_t chunk_size_bytes = 4 << 20;
    int64_t gc_grace_ms = 60 * 60 * 1000;     // chunks younger than this are never collected
    int64_t gc_interval_ms = 10 * 60 * 1000;  // background collection period; 0 = never
    // The engine whose records keep this node's chunks alive; null = the
    // service's own engine. A gateway reads a shard it does not hold, so the
    // chunks it wrote or passed on are kept by its own (empty) engine's
    // references: none, and they go once the grace period is over.
    storage::Engine* chunk_refs = nullptr;
};

// Chunks in use by writers and readers that are not (or no longer) visible
// in the metadata; garbage collection never removes a pinned chunk.
class ChunkPins {
  public:
    void pin(const std::string& id);
    void unpin(const std::string& id);
    bool is_pinned(const std::string& id) const;
    std::vector<std::string> snapshot() const;

  private:
    mutable std::mutex mu_;
    std::unordered_map<std::string, int> pins_;  // guarded by mu_
};

// A cluster's meta shard: buckets live there (the data shard keeps a mirror
// of each, which its writes check deterministically).
struct MetaShard {
    shard::Replica* replica = nullptr;
    storage::Engine* engine = nullptr;
};

struct GcStats {
    uint64_t referenced = 0;
    uint64_t removed = 0;
};

class LocalObjectService final : public ObjectService {
  public:
    // Chunks are written to (and collected from) `chunks`, and handed to
    // `replicator` when set (a cluster's other replicas) before the metadata
    // that references them is proposed; reads go through `read_source` when
    // set (a cache in front of the store, peers for chunks missing here).
    // Reads pass replica.read_barrier() first, so a follower never serves
    // state older than a write acknowledged before the read began.
    LocalObjectService(storage::Engine& engine, blob::ChunkStore& chunks, shard::Replica& replica,
                       const Clock& clock, LocalObjectServiceOptions options = {},
                       blob::ChunkSource* read_source = nullptr,
                       blob::ChunkReplicator* replicator = nullptr, MetaShard meta = {});
    // Over several data shards: each command and read goes to the shard
    // that owns its key (shard_routing.h).
    LocalObjectService(ShardRouting& routing, blob::ChunkStore& chunks, const Clock& clock,
                       LocalObjectServiceOptions options = {},
                       blob::ChunkSource* read_source = nullptr,
                       blob::ChunkReplicator* replicator = nullptr, MetaShard meta = {});
    ~LocalObjectService() override;

    Status create_bucket(std::string_view bucket) override;
    Status delete_bucket(std::string_view bucket) override;
    Result<BucketInfo> head_bucket(std::string_view bucket) override;
    Result<std::vector<BucketInfo>> list_buckets() override;

    Result<std::unique_ptr<BodyWriter>> begin_put(std::string_view bucket,
                                                  std::string_view key) override;
    Result<ObjectInfo> commit_put(std::unique_ptr<BodyWriter> body, std::string_view bucket,
                                  std::string_view key, const ObjectHeaders& headers,
                                  const WriteConditions& conditions) override;
    Result<ObjectInfo> head_object(std::string_view bucket, std::string_view key) override;
    Result<std::unique_ptr<ObjectReader>> get_object(std::string_view bucket, std::string_view key,
                                                     std::optional<ByteRange> range) override;
    Status delete_object(std::string_view bucket, std::string_view key) override;
    Result<ObjectInfo> copy_object(std::string_view src_bucket, std::string_view src_key,
                                   std::string_view dst_bucket, std::string_view dst_key,
                                   const std::optional<ObjectHeaders>& headers,
                                   const WriteConditions& conditions) override;
    Result<ListResult> list_objects(std::string_view bucket, const ListQuery& query) override;

    Result<std::string> create_multipart(std::string_view bucket, std::string_view key,
                                         const ObjectHeaders& headers) override;
    Result<std::unique_ptr<BodyWriter>> begin_part(std::string_view bucket, std::string_view key,
                                                   std::string_view upload_id,
                                                   uint32_t part_number) override;
    Result<PartInfo> commit_part(std::unique_ptr<BodyWriter> body, std::string_view bucket,
                                 std::string_view key, std::string_view upload_id,
                                 uint32_t part_number) override;
    Result<ObjectInfo> complete_multipart(std::string_view bucket, std::string_view key,
                                          std::string_view upload_id,
                                          const std::vector<CompletedPart>& parts,
                                          const WriteConditions& conditions) override;
    Status abort_multipart(std::string_view bucket, std::string_view key,
                           std::string_view upload_id) override;
    Result<ListPartsResult> list_parts(std::string_view bucket, std::string_view key,
                                       std::string_view upload_id, uint32_t part_number_marker,
                                       uint32_t max_parts) override;
    Result<ListUploadsResult> list_uploads(std::string_view bucket, std::string_view prefix,
                                           std::string_view delimiter, std::string_view key_marker,
                                           std::string_view upload_id_marker,
                                           uint32_t max_uploads) override;

    // Mark and sweep: removes chunks referenced by no object or part, not
    // pinned, and older than the grace period. Runs in the background every
    // gc_interval_ms; callable directly (tests, admin).
    Result<GcStats> collect_garbage();

  private:
    // `routing`, or (null) the owned one.
    LocalObjectService(std::unique_ptr<ShardRouting> owned, ShardRouting* routing,
                       blob::ChunkStore& chunks, const Clock& clock,
                       LocalObjectServiceOptions options, blob::ChunkSource* read_source,
                       blob::ChunkReplicator* replicator, MetaShard meta);
    ShardView view() { return ShardView(routing_.table()); }
    // Runs `op` again (up to a bound) while a split makes it meet a shard
    // that no longer owns its key, with the table refreshed each time.
    template <class Op>
    auto retry_stale(Op op) -> decltype(op());
    // A listing's read over every shard: read barriers on all, one snapshot
    // of each, the bucket checked, then fn(reader); retried on stale_epoch.
    template <class Fn>
    auto read_listing(std::string_view bucket, Fn fn)
        -> decltype(fn(std::declval<shard::Reader&>()));
    // To the shard that owns the command's key (retried on stale_epoch).
    Result<shard::ApplyOutcome> propose(shard::Command command);
    Result<shard::ApplyOutcome> propose_meta(shard::Command command);
    // Makes the data shards' mirrors of a bucket the meta shard (or, without
    // one, the first data shard) holds.
    // It fails (no_such_bucket) where that incarnation was deleted already.
    Status mirror_bucket(const shard::BucketRecord& rec);
    // The bucket's record at the authority, after a read barrier there.
    Result<std::optional<shard::BucketRecord>> authority_record(std::string_view bucket);
    // The data shards that keep a mirror of each bucket: all of them, but
    // the first when it is the authority itself (no meta shard).
    std::vector<ShardRoute> mirrors();
    std::vector<ShardRoute> mirrors_of(std::vector<ShardRoute> table) const;
    // One round of delete_bucket over the table as now known: the mirrors,
    // then the authority. Appends each mirror it removes to `removed`;
    // stale_epoch when a shard split since the table was read.
    Status remove_bucket(std::string_view bucket, std::vector<ShardRoute>& removed);
    // Where buckets are authoritative: the meta shard, or the first data shard.
    storage::Engine& bucket_engine() {
        return meta_.engine ? *meta_.engine : *routing_.table().front().engine;
    }
    shard::Replica& bucket_replica() {
        return meta_.replica ? *meta_.replica : *routing_.table().front().replica;
    }
    Status ensure_dir_marker(std::string_view bucket, std::string_view key);
    // An object's record after a read barrier on its shard (none if absent).
    Result<std::optional<shard::ObjectRecord>> read_object(std::string_view bucket,
                                                           std::string_view key);
    Status check_key(std::string_view key) const;
    // Whether the bucket exists in this replica's state, without a barrier.
    Status bucket_local(std::string_view bucket);
    // bucket_local, with a read barrier only when it says no.
    Status bucket_known(std::string_view bucket);
    void gc_loop();

    std::unique_ptr<ShardRouting> owned_routing_;  // SingleShard of the one-shard constructor
    ShardRouting& routing_;
    blob::ChunkStore& chunks_;
    blob::ChunkSource& read_source_;
    blob::ChunkReplicator* const replicator_;  // may be null
    const MetaShard meta_;
    const Clock& clock_;
    const LocalObjectServiceOptions options_;
    ChunkPins pins_;

    std::mutex gc_mu_;  // one collection at a time
    std::mutex gc_wait_mu_;
    std::condition_variable gc_cv_;
    bool gc_stop_ = false;  // guarded by gc_wait_mu_
    std::thread gc_thread_;
};

}  // namespace cleave::service
