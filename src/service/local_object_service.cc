#include "service/local_object_service.h"

#include <chrono>
#include <unordered_set>

#include "common/hash.h"
#include "common/logging.h"
#include "common/random.h"
#include "meta/keyspace.h"
#include "service/body_writer.h"
#include "service/object_reader.h"
#include "service/records.h"
#include "shard/reads.h"

namespace cleave::service {

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("service");
    return l;
}

shard::Conditions to_record(const WriteConditions& c) {
    shard::Conditions r;
    r.set_if_none_match_star(c.if_none_match_star);
    if (c.if_match_etag) {
        r.set_has_if_match(true);
        r.set_if_match_etag(*c.if_match_etag);
    }
    return r;
}

size_t user_metadata_bytes(const ObjectHeaders& h) {
    size_t n = 0;
    for (const auto& [k, v] : h.user_metadata) n += k.size() + v.size();
    return n;
}

// Downcasts a writer handed back by the caller; it must be one of ours and
// finished.
Result<LocalBodyWriter*> own_writer(const std::unique_ptr<BodyWriter>& body) {
    auto* w = dynamic_cast<LocalBodyWriter*>(body.get());
    if (w == nullptr) return Status::invalid_argument("foreign body writer");
    if (!w->finished()) return Status::invalid_argument("body not finished");
    return w;
}

}  // namespace

// ---- ChunkPins --------------------------------------------------------------

void ChunkPins::pin(const std::string& id) {
    std::lock_guard lock(mu_);
    ++pins_[id];
}

void ChunkPins::unpin(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = pins_.find(id);
    CLEAVE_ASSERT(it != pins_.end(), "unpin of an unpinned chunk");
    if (--it->second == 0) pins_.erase(it);
}

bool ChunkPins::is_pinned(const std::string& id) const {
    std::lock_guard lock(mu_);
    return pins_.count(id) > 0;
}

std::vector<std::string> ChunkPins::snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    out.reserve(pins_.size());
    for (const auto& [id, n] : pins_) out.push_back(id);
    return out;
}

// ---- LocalObjectService -----------------------------------------------------

LocalObjectService::LocalObjectService(storage::Engine& engine, blob::ChunkStore& chunks,
                                       shard::Replica& replica, const Clock& clock,
                                       LocalObjectServiceOptions options,
                                       blob::ChunkSource* read_source,
                                       blob::ChunkReplicator* replicator, MetaShard meta)
    : LocalObjectService(std::make_unique<SingleShard>(engine, replica), nullptr, chunks, clock,
                         options, read_source, replicator, meta) {}

LocalObjectService::LocalObjectService(ShardRouting& routing, blob::ChunkStore& chunks,
                                       const Clock& clock, LocalObjectServiceOptions options,
                                       blob::ChunkSource* read_source,
                                       blob::ChunkReplicator* replicator, MetaShard meta)
    : LocalObjectService(nullptr, &routing, chunks, clock, options, read_source, replicator, meta) {
}

LocalObjectService::LocalObjectService(std::unique_ptr<ShardRouting> owned, ShardRouting* routing,
                                       blob::ChunkStore& chunks, const Clock& clock,
                                       LocalObjectServiceOptions options,
                                       blob::ChunkSource* read_source,
                                       blob::ChunkReplicator* replicator, MetaShard meta)
    : owned_routing_(std::move(owned)),
      routing_(routing ? *routing : *owned_routing_),
      chunks_(chunks),
      read_source_(read_source ? *read_source : chunks),
      replicator_(replicator),
      meta_(meta),
      clock_(clock),
      options_(options) {
    if (options_.gc_interval_ms > 0) gc_thread_ = std::thread([this] { gc_loop(); });
}

LocalObjectService::~LocalObjectService() {
    {
        std::lock_guard lock(gc_wait_mu_);
        gc_stop_ = true;
    }
    gc_cv_.notify_all();
    if (gc_thread_.joinable()) gc_thread_.join();
}

namespace {

// A split can move a key between the routing table's read and the shard's
// answer, and on a cluster the map records a new shard a moment after the
// split applied: a few rounds, backing off from 10 ms to 0.5 s (about 2 s
// in all), find the owner.
constexpr int kStaleRetries = 10;

bool is_stale(const Status& s) { return s.code() == Errc::stale_epoch; }

// A mirror's creation of `rec`'s incarnation; `undo`: a refused delete
// putting back the mirror it removed (past the tombstone it left).
shard::Command mirror_create(const shard::BucketRecord& rec, int64_t time_ms, bool undo) {
    shard::Command c;
    c.set_time_ms(time_ms);
    auto* cb = c.mutable_create_bucket();
    cb->set_bucket(rec.name());
    cb->set_incarnation(rec.incarnation());
    cb->set_undo_delete(undo);
    return c;
}

void stale_backoff(int attempt) {
    if (attempt < 2) return;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(500, 10 << std::min(attempt - 2, 6))));
}

}  // namespace

template <class Op>
auto LocalObjectService::retry_stale(Op op) -> decltype(op()) {
    for (int attempt = 1;; ++attempt) {
        auto r = op();
        if (r.is_ok() || !is_stale(r.status()) || attempt == kStaleRetries) return r;
        stale_backoff(attempt);
        routing_.refresh();
    }
}

template <class Fn>
auto LocalObjectService::read_listing(std::string_view bucket, Fn fn)
    -> decltype(fn(std::declval<shard::Reader&>())) {
    using R = decltype(fn(std::declval<shard::Reader&>()));
    return retry_stale([&]() -> R {
        ShardView v = view();
        CLEAVE_RETURN_IF_ERROR(v.barrier_all());
        auto snap = v.engine().snapshot();
        shard::Reader reader(v.engine(), snap.get());
        CLEAVE_ASSIGN_OR_RETURN(auto b, reader.bucket(bucket));
        if (!b) return Status(Errc::no_such_bucket, std::string(bucket));
        return fn(reader);
    });
}

Result<shard::ApplyOutcome> LocalObjectService::propose(shard::Command command) {
    command.set_time_ms(clock_.now_unix_ms());
    const std::optional<std::string> pk = shard::command_pk(command);
    bool mirrored = false;
    for (int attempt = 1;; ++attempt) {
        ShardView v = view();
        shard::Replica& replica = pk ? *v.route(*pk).replica : *v.table().front().replica;
        auto r = replica.propose(command);
        if (r.is_ok() && r->status.code() == Errc::no_such_bucket && pk && !mirrored) {
            // A shard split off its parent between a bucket's creation and
            // its mirror there lacks the mirror: make it if the bucket
            // exists, once, and try again.
            mirrored = true;
            const std::string bucket = shard::command_bucket(command);
            CLEAVE_ASSIGN_OR_RETURN(auto rec, authority_record(bucket));
            if (rec) {
                CLEAVE_RETURN_IF_ERROR(mirror_bucket(*rec));
                continue;
            }
        }
        const bool stale = r.is_ok() ? is_stale(r->status) : is_stale(r.status());
        if (!stale || attempt == kStaleRetries) return r;
        stale_backoff(attempt);
        routing_.refresh();
    }
}

Result<shard::ApplyOutcome> LocalObjectService::propose_meta(shard::Command command) {
    command.set_time_ms(clock_.now_unix_ms());
    return bucket_replica().propose(std::move(command));
}

std::vector<ShardRoute> LocalObjectService::mirrors() { return mirrors_of(routing_.table()); }

std::vector<ShardRoute> LocalObjectService::mirrors_of(std::vector<ShardRoute> table) const {
    if (!meta_.engine) table.erase(table.begin());
    return table;
}

Result<std::optional<shard::BucketRecord>> LocalObjectService::authority_record(
    std::string_view bucket) {
    CLEAVE_RETURN_IF_ERROR(bucket_replica().read_barrier());
    return shard::Reader(bucket_engine()).bucket(bucket);
}

Status LocalObjectService::mirror_bucket(const shard::BucketRecord& rec) {
    for (const ShardRoute& r : mirrors()) {
        CLEAVE_ASSIGN_OR_RETURN(
            auto outcome, r.replica->propose(mirror_create(rec, clock_.now_unix_ms(), false)));
        if (!outcome.status.is_ok() && outcome.status.code() != Errc::already_exists)
            return outcome.status;
    }
    return Status::ok();
}

Status LocalObjectService::check_key(std::string_view key) const {
    if (key.empty()) return Status::invalid_argument("empty object key");
    if (key.size() > kMaxKeyBytes) {
        return Status(Errc::too_large,
                      fmt::format("key is {} bytes; the limit is {}", key.size(), kMaxKeyBytes));
    }
    return Status::ok();
}

Status LocalObjectService::ensure_dir_marker(std::string_view bucket, std::string_view key) {
    std::string_view root = meta::root_of(key);
    if (root.empty()) return Status::ok();
    CLEAVE_ASSIGN_OR_RETURN(
        bool exists, retry_stale([&] {
            return shard::Reader(view().engine()).dir_marker_exists(bucket, root);
        }));
    if (exists) return Status::ok();
    shard::Command c;
    auto* m = c.mutable_ensure_dir_marker();
    m->set_bucket(std::string(bucket));
    m->set_root(std::string(root));
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    return outcome.status;
}

// ---- buckets ----

Status LocalObjectService::create_bucket(std::string_view bucket) {
    shard::Command c;
    c.mutable_create_bucket()->set_bucket(std::string(bucket));
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose_meta(std::move(c)));
    // The authority first (it decides whether the name is taken), then the
    // mirrors; a retry after a failure in between completes them.
    if (!outcome.status.is_ok() && outcome.status.code() != Errc::already_exists)
        return outcome.status;
    CLEAVE_ASSIGN_OR_RETURN(auto rec, authority_record(bucket));
    if (!rec) return Status(Errc::no_such_bucket, std::string(bucket));  // deleted meanwhile
    CLEAVE_RETURN_IF_ERROR(mirror_bucket(*rec));
    return outcome.status;
}

Status LocalObjectService::delete_bucket(std::string_view bucket) {
    CLEAVE_ASSIGN_OR_RETURN(auto rec, authority_record(bucket));
    if (!rec) return Status(Errc::no_such_bucket, std::string(bucket));
    // Mirrors removed so far, across retries: a refusal puts them back.
    std::vector<ShardRoute> removed;
    Status s;
    for (int attempt = 1;; ++attempt) {
        s = remove_bucket(bucket, removed);
        if (!is_stale(s) || attempt == kStaleRetries) break;
        stale_backoff(attempt);
        routing_.refresh();
    }
    // no_such_bucket from the authority: the bucket is gone (a concurrent
    // delete won), and so are its mirrors.
    if (s.is_ok() || s.code() == Errc::no_such_bucket) return s;
    // Until its mirror is back a shard refuses the bucket's writes (its
    // tombstone stops the repair a write would make), so this tries hard.
    for (const ShardRoute& back : removed) {
        Status restored;
        for (int attempt = 1; attempt <= kStaleRetries; ++attempt) {
            auto r = back.replica->propose(mirror_create(*rec, clock_.now_unix_ms(), true));
            restored = r.is_ok() ? r->status : r.status();
            if (restored.is_ok() || restored.code() == Errc::already_exists) break;
            stale_backoff(attempt + 1);
        }
        if (!restored.is_ok() && restored.code() != Errc::already_exists)
            log()->error(
                "bucket {}: mirror on shard {} not restored: {}; a new DeleteBucket "
                "of it (refused again, or done) settles it",
                bucket, back.id, restored.to_string());
    }
    return s;
}

Status LocalObjectService::remove_bucket(std::string_view bucket,
                                         std::vector<ShardRoute>& removed) {
    // Each shard is asked with the range this table gives it and refuses
    // (stale_epoch) if it has split since: the caller then learns the new
    // table and asks again, so the emptiness check covers every key.
    auto command = [&](const ShardRoute& r) {
        shard::Command c;
        c.set_time_ms(clock_.now_unix_ms());
        auto* d = c.mutable_delete_bucket();
        d->set_bucket(std::string(bucket));
        d->mutable_expected_range()->set_id(r.id);
        d->mutable_expected_range()->set_start(r.start);
        d->mutable_expected_range()->set_end(r.end);
        return c;
    };
    // The mirrors first: each refuses while objects or uploads remain in its
    // range, and once a mirror is gone no write can land in its range.
    const std::vector<ShardRoute> table = routing_.table();
    for (const ShardRoute& r : mirrors_of(table)) {
        auto data = r.replica->propose(command(r));
        Status s = data.is_ok() ? data->status : data.status();
        if (s.code() == Errc::no_such_bucket) continue;  // removed by an earlier round
        if (!s.is_ok()) return s;
        removed.push_back(r);
    }
    // Then the authority; without a meta shard it is the first data shard,
    // whose own range must be checked like a mirror's.
    shard::Command c;
    if (meta_.engine) {
        c.mutable_delete_bucket()->set_bucket(std::string(bucket));
    } else {
        c = command(table.front());
    }
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose_meta(std::move(c)));
    return outcome.status;
}

Status LocalObjectService::bucket_local(std::string_view bucket) {
    CLEAVE_ASSIGN_OR_RETURN(auto rec, shard::Reader(view().engine()).bucket(bucket));
    if (!rec) return Status(Errc::no_such_bucket, std::string(bucket));
    return Status::ok();
}

Status LocalObjectService::bucket_known(std::string_view bucket) {
    // Buckets are rarely deleted: a local hit is good enough for a check
    // before a write (the state machine checks again); a miss may be a
    // replica that has not applied the creation yet.
    if (bucket_local(bucket).is_ok()) return Status::ok();
    CLEAVE_RETURN_IF_ERROR(view().table().front().replica->read_barrier());
    Status here = bucket_local(bucket);
    if (here.is_ok() || here.code() != Errc::no_such_bucket || !meta_.engine) return here;
    // The meta shard may hold a bucket whose mirror a failed create never
    // made here: repair it.
    CLEAVE_RETURN_IF_ERROR(meta_.replica->read_barrier());
    CLEAVE_ASSIGN_OR_RETURN(auto rec, shard::Reader(*meta_.engine).bucket(bucket));
    if (!rec) return here;
    return mirror_bucket(*rec);
}

Result<std::optional<shard::ObjectRecord>> LocalObjectService::read_object(std::string_view bucket,
                                                                           std::string_view key) {
    const std::string pk = meta::placement_key(bucket, key);
    return retry_stale([&]() -> Result<std::optional<shard::ObjectRecord>> {
        ShardView v = view();
        CLEAVE_RETURN_IF_ERROR(v.barrier(pk));
        return shard::Reader(v.engine()).object(bucket, key);
    });
}

Result<BucketInfo> LocalObjectService::head_bucket(std::string_view bucket) {
    CLEAVE_RETURN_IF_ERROR(bucket_replica().read_barrier());
    CLEAVE_ASSIGN_OR_RETURN(auto rec, shard::Reader(bucket_engine()).bucket(bucket));
    if (!rec) return Status(Errc::no_such_bucket, std::string(bucket));
    return BucketInfo{rec->name(), rec->created_ms()};
}

Result<std::vector<BucketInfo>> LocalObjectService::list_buckets() {
    CLEAVE_RETURN_IF_ERROR(bucket_replica().read_barrier());
    CLEAVE_ASSIGN_OR_RETURN(auto recs, shard::Reader(bucket_engine()).buckets());
    std::vector<BucketInfo> out;
    for (const auto& r : recs) out.push_back({r.name(), r.created_ms()});
    return out;
}

// ---- objects ----

Result<std::unique_ptr<BodyWriter>> LocalObjectService::begin_put(std::string_view bucket,
                                                                  std::string_view key) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    CLEAVE_RETURN_IF_ERROR(bucket_known(bucket));
    // Chunks go where the object's shard is now; a split or a move before
    // the commit leaves them with a replica that still shares them.
    const uint64_t shard = view().route(meta::placement_key(bucket, key)).id;
    return std::unique_ptr<BodyWriter>(std::make_unique<LocalBodyWriter>(
        chunks_, pins_, options_.chunk_size_bytes, options_.inline_limit_bytes, kMaxPutBytes,
        replicator_, shard));
}

Result<ObjectInfo> LocalObjectService::commit_put(std::unique_ptr<BodyWriter> body,
                                                  std::string_view bucket, std::string_view key,
                                                  const ObjectHeaders& headers,
                                                  const WriteConditions& conditions) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    CLEAVE_ASSIGN_OR_RETURN(LocalBodyWriter * w, own_writer(body));
    if (user_metadata_bytes(headers) > kMaxUserMetadataBytes) {
        return Status(Errc::too_large, "user metadata exceeds 2 KB");
    }
    CLEAVE_RETURN_IF_ERROR(ensure_dir_marker(bucket, key));
    shard::Command c;
    auto* put = c.mutable_put_object();
    put->set_bucket(std::string(bucket));
    put->set_key(std::string(key));
    auto* rec = put->mutable_record();
    rec->set_etag(to_hex(w->digest().md5));
    rec->set_last_modified_ms(clock_.now_unix_ms());
    *rec->mutable_headers() = to_record(headers);
    *rec->mutable_body() = w->body();
    *put->mutable_conditions() = to_record(conditions);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    return object_info(key, outcome.object);
}

Result<ObjectInfo> LocalObjectService::head_object(std::string_view bucket, std::string_view key) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    CLEAVE_ASSIGN_OR_RETURN(auto rec, read_object(bucket, key));
    if (!rec) {
        CLEAVE_RETURN_IF_ERROR(bucket_local(bucket));
        return Status(Errc::no_such_key, std::string(key));
    }
    return object_info(key, *rec);
}

Result<std::unique_ptr<ObjectReader>> LocalObjectService::get_object(
    std::string_view bucket, std::string_view key, std::optional<ByteRange> range) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    CLEAVE_ASSIGN_OR_RETURN(auto rec, read_object(bucket, key));
    if (!rec) {
        CLEAVE_RETURN_IF_ERROR(bucket_local(bucket));
        return Status(Errc::no_such_key, std::string(key));
    }
    uint64_t size = rec->body().size();
    uint64_t offset = 0, length = size;
    if (range) {
        if (range->first > range->last || range->last >= size) {
            return Status(Errc::invalid_range, fmt::format("range {}-{} of an object of {} bytes",
                                                           range->first, range->last, size));
        }
        offset = range->first;
        length = range->last - range->first + 1;
    }
    return std::unique_ptr<ObjectReader>(std::make_unique<LocalObjectReader>(
        read_source_, pins_, object_info(key, *rec), rec->body(), offset, length));
}

Status LocalObjectService::delete_object(std::string_view bucket, std::string_view key) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    shard::Command c;
    auto* d = c.mutable_delete_object();
    d->set_bucket(std::string(bucket));
    d->set_key(std::string(key));
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    return outcome.status;
}

Result<ObjectInfo> LocalObjectService::copy_object(std::string_view src_bucket,
                                                   std::string_view src_key,
                                                   std::string_view dst_bucket,
                                                   std::string_view dst_key,
                                                   const std::optional<ObjectHeaders>& headers,
                                                   const WriteConditions& conditions) {
    CLEAVE_RETURN_IF_ERROR(check_key(src_key));
    CLEAVE_RETURN_IF_ERROR(check_key(dst_key));
    CLEAVE_RETURN_IF_ERROR(view().barrier(meta::placement_key(src_bucket, src_key)));
    CLEAVE_RETURN_IF_ERROR(bucket_local(dst_bucket));
    if (headers && user_metadata_bytes(*headers) > kMaxUserMetadataBytes) {
        return Status(Errc::too_large, "user metadata exceeds 2 KB");
    }
    // Read the source, pin its chunks, then read it again: if it is unchanged,
    // its chunks were referenced while pinned, so GC can't have taken them.
    shard::ObjectRecord src;
    std::vector<std::string> pinned;
    for (int attempt = 0;; ++attempt) {
        CLEAVE_ASSIGN_OR_RETURN(
            auto rec, retry_stale([&] {
                return shard::Reader(view().engine()).object(src_bucket, src_key);
            }));
        if (!rec) {
            CLEAVE_RETURN_IF_ERROR(bucket_local(src_bucket));
            return Status(Errc::no_such_key, std::string(src_key));
        }
        for (const auto& c : rec->body().chunks()) {
            pins_.pin(c.id());
            pinned.push_back(c.id());
        }
        CLEAVE_ASSIGN_OR_RETURN(
            auto again, retry_stale([&] {
                return shard::Reader(view().engine()).object(src_bucket, src_key);
            }));
        if (again && again->SerializeAsString() == rec->SerializeAsString()) {
            src = std::move(*rec);
            break;
        }
        for (const auto& id : pinned) pins_.unpin(id);
        pinned.clear();
        if (attempt == 3) return Status::unavailable("source object keeps changing; retry");
    }
    struct Unpin {
        ChunkPins& pins;
        std::vector<std::string>& ids;
        ~Unpin() {
            for (const auto& id : ids) pins.unpin(id);
        }
    } unpin{pins_, pinned};

    CLEAVE_RETURN_IF_ERROR(ensure_dir_marker(dst_bucket, dst_key));
    shard::Command c;
    auto* put = c.mutable_put_object();
    put->set_bucket(std::string(dst_bucket));
    put->set_key(std::string(dst_key));
    auto* rec = put->mutable_record();
    *rec = src;
    rec->set_last_modified_ms(clock_.now_unix_ms());
    if (headers) *rec->mutable_headers() = to_record(*headers);
    *put->mutable_conditions() = to_record(conditions);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    return object_info(dst_key, outcome.object);
}

Result<ListResult> LocalObjectService::list_objects(std::string_view bucket,
                                                    const ListQuery& query) {
    CLEAVE_ASSIGN_OR_RETURN(auto page, read_listing(bucket, [&](shard::Reader& reader) {
                                return reader.list_objects(bucket, query.prefix, query.delimiter,
                                                           query.start_after, query.max_keys);
                            }));
    ListResult out;
    for (auto& o : page.objects) out.objects.push_back(object_info(o.key, o.record));
    out.common_prefixes = std::move(page.common_prefixes);
    out.is_truncated = page.is_truncated;
    out.next_start_after = std::move(page.next_start_after);
    return out;
}

// ---- multipart ----

Result<std::string> LocalObjectService::create_multipart(std::string_view bucket,
                                                         std::string_view key,
                                                         const ObjectHeaders& headers) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    if (user_metadata_bytes(headers) > kMaxUserMetadataBytes) {
        return Status(Errc::too_large, "user metadata exceeds 2 KB");
    }
    std::string upload_id = to_hex(os_random_bytes(shard::kUploadIdLength / 2));
    shard::Command c;
    auto* cu = c.mutable_create_upload();
    cu->set_bucket(std::string(bucket));
    cu->set_key(std::string(key));
    cu->mutable_record()->set_upload_id(upload_id);
    cu->mutable_record()->set_initiated_ms(clock_.now_unix_ms());
    *cu->mutable_record()->mutable_headers() = to_record(headers);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    return upload_id;
}

Result<std::unique_ptr<BodyWriter>> LocalObjectService::begin_part(std::string_view bucket,
                                                                   std::string_view key,
                                                                   std::string_view upload_id,
                                                                   uint32_t part_number) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    if (part_number < 1 || part_number > kMaxPartNumber) {
        return Status::invalid_argument(
            fmt::format("part number {} is not in 1..{}", part_number, kMaxPartNumber));
    }
    const std::string pk = meta::placement_key(bucket, key);
    auto read_upload = [&] {
        return retry_stale(
            [&] { return shard::Reader(view().engine()).upload(bucket, key, upload_id); });
    };
    CLEAVE_ASSIGN_OR_RETURN(auto up, read_upload());
    if (!up) {
        // Perhaps created through another replica and not applied here yet.
        CLEAVE_RETURN_IF_ERROR(view().barrier(pk));
        CLEAVE_ASSIGN_OR_RETURN(up, read_upload());
    }
    if (!up) {
        CLEAVE_RETURN_IF_ERROR(bucket_local(bucket));
        return Status(Errc::no_such_upload, std::string(upload_id));
    }
    return std::unique_ptr<BodyWriter>(
        std::make_unique<LocalBodyWriter>(chunks_, pins_, options_.chunk_size_bytes, 0,
                                          kMaxPartBytes, replicator_, view().route(pk).id));
}

Result<PartInfo> LocalObjectService::commit_part(std::unique_ptr<BodyWriter> body,
                                                 std::string_view bucket, std::string_view key,
                                                 std::string_view upload_id, uint32_t part_number) {
    CLEAVE_ASSIGN_OR_RETURN(LocalBodyWriter * w, own_writer(body));
    shard::Command c;
    auto* pp = c.mutable_put_part();
    pp->set_bucket(std::string(bucket));
    pp->set_key(std::string(key));
    pp->set_upload_id(std::string(upload_id));
    auto* rec = pp->mutable_record();
    rec->set_part_number(part_number);
    rec->set_etag(to_hex(w->digest().md5));
    rec->set_last_modified_ms(clock_.now_unix_ms());
    *rec->mutable_body() = w->body();
    PartInfo info{part_number, w->body().size(), rec->etag(), rec->last_modified_ms()};
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    return info;
}

Result<ObjectInfo> LocalObjectService::complete_multipart(std::string_view bucket,
                                                          std::string_view key,
                                                          std::string_view upload_id,
                                                          const std::vector<CompletedPart>& parts,
                                                          const WriteConditions& conditions) {
    CLEAVE_RETURN_IF_ERROR(check_key(key));
    if (parts.size() > kMaxPartNumber) return Status::invalid_argument("too many parts");
    CLEAVE_RETURN_IF_ERROR(ensure_dir_marker(bucket, key));
    shard::Command c;
    auto* cu = c.mutable_complete_upload();
    cu->set_bucket(std::string(bucket));
    cu->set_key(std::string(key));
    cu->set_upload_id(std::string(upload_id));
    cu->set_min_part_size(kMinPartBytes);
    for (const auto& p : parts) {
        auto* cp = cu->add_parts();
        cp->set_part_number(p.part_number);
        cp->set_etag(p.etag);
    }
    *cu->mutable_conditions() = to_record(conditions);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    return object_info(key, outcome.object);
}

Status LocalObjectService::abort_multipart(std::string_view bucket, std::string_view key,
                                           std::string_view upload_id) {
    shard::Command c;
    auto* a = c.mutable_abort_upload();
    a->set_bucket(std::string(bucket));
    a->set_key(std::string(key));
    a->set_upload_id(std::string(upload_id));
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, propose(std::move(c)));
    return outcome.status;
}

Result<ListPartsResult> LocalObjectService::list_parts(std::string_view bucket,
                                                       std::string_view key,
                                                       std::string_view upload_id,
                                                       uint32_t part_number_marker,
                                                       uint32_t max_parts) {
    using Parts = std::vector<shard::PartRecord>;
    CLEAVE_ASSIGN_OR_RETURN(
        auto parts, retry_stale([&]() -> Result<Parts> {
            ShardView v = view();
            CLEAVE_RETURN_IF_ERROR(v.barrier(meta::placement_key(bucket, key)));
            auto snap = v.engine().snapshot();
            shard::Reader reader(v.engine(), snap.get());
            CLEAVE_ASSIGN_OR_RETURN(auto up, reader.upload(bucket, key, upload_id));
            if (!up) {
                CLEAVE_RETURN_IF_ERROR(bucket_local(bucket));
                return Status(Errc::no_such_upload, std::string(upload_id));
            }
            return reader.parts(bucket, key, upload_id, part_number_marker, max_parts + 1);
        }));
    ListPartsResult out;
    for (const auto& p : parts) {
        if (out.parts.size() == max_parts) {
            out.is_truncated = true;
            break;
        }
        out.parts.push_back({p.part_number(), p.body().size(), p.etag(), p.last_modified_ms()});
    }
    if (!out.parts.empty()) out.next_part_number_marker = out.parts.back().part_number;
    return out;
}

Result<ListUploadsResult> LocalObjectService::list_uploads(
    std::string_view bucket, std::string_view prefix, std::string_view delimiter,
    std::string_view key_marker, std::string_view upload_id_marker, uint32_t max_uploads) {
    CLEAVE_ASSIGN_OR_RETURN(auto page, read_listing(bucket, [&](shard::Reader& reader) {
                                return reader.list_uploads(bucket, prefix, delimiter, key_marker,
                                                           upload_id_marker, max_uploads);
                            }));
    ListUploadsResult out;
    for (const auto& u : page.uploads) {
        out.uploads.push_back({u.key, u.record.upload_id(), u.record.initiated_ms()});
    }
    out.common_prefixes = std::move(page.common_prefixes);
    out.is_truncated = page.is_truncated;
    out.next_key_marker = std::move(page.next_key_marker);
    out.next_upload_id_marker = std::move(page.next_upload_id_marker);
    return out;
}

// ---- garbage collection ----

Result<GcStats> LocalObjectService::collect_garbage() {
    std::lock_guard gc_lock(gc_mu_);
    // Mark: referenced chunks in a snapshot of the metadata, then the pins
    // taken after it (a chunk pinned before the snapshot and committed is in
    // the snapshot; one pinned after it is in the pin set).
    // Every shard's references (a split shares chunks between both halves).
    std::vector<storage::Engine*> refs;
    if (options_.chunk_refs) {
        refs.push_back(options_.chunk_refs);
    } else {
        for (const ShardRoute& r : routing_.table()) refs.push_back(r.engine);
    }
    std::unordered_set<std::string> live;
    for (storage::Engine* e : refs) {
        auto snap = e->snapshot();
        CLEAVE_RETURN_IF_ERROR(
            shard::Reader(*e, snap.get()).for_each_chunk_ref([&](const std::string& id) {
                live.insert(id);
            }));
    }
    for (auto& id : pins_.snapshot()) live.insert(std::move(id));
    GcStats stats;
    stats.referenced = live.size();
    // Sweep: unreferenced and older than the grace period (writes in flight
    // whose chunks are not pinned yet are younger than that).
    CLEAVE_ASSIGN_OR_RETURN(auto swept, chunks_.collect_garbage(
                                            [&](const blob::ChunkId& id) {
                                                return live.count(blob::chunk_id_bytes(id)) > 0;
                                            },
                                            options_.gc_grace_ms, clock_.now_unix_ms()));
    stats.removed = swept.chunks_removed;
    if (stats.removed) log()->info("gc: removed {} unreferenced chunks", stats.removed);
    return stats;
}

void LocalObjectService::gc_loop() {
    std::unique_lock lock(gc_wait_mu_);
    while (!gc_stop_) {
        gc_cv_.wait_for(lock, std::chrono::milliseconds(options_.gc_interval_ms),
                        [&] { return gc_stop_; });
        if (gc_stop_) break;
        lock.unlock();
        auto r = collect_garbage();
        if (!r.is_ok()) log()->warn("gc failed: {}", r.status().to_string());
        lock.lock();
    }
}

}  // namespace cleave::service
