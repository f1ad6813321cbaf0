#include "shard/state_machine.h"

#include <map>
#include <vector>

#include "common/hash.h"
#include "meta/keyspace.h"
#include "shard/command_keys.h"
#include "shard/reads.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"

namespace cleave::shard {

namespace {

const std::string& applied_index_key() {
    static const std::string k = keys::state("applied_index");
    return k;
}

ApplyOutcome outcome_of(Status s, ObjectRecord object = {}) {
    ApplyOutcome out;
    out.status = std::move(s);
    out.object = std::move(object);
    return out;
}
ApplyOutcome fail(Errc code, std::string message) {
    return outcome_of(Status(code, std::move(message)));
}
ApplyOutcome ok() { return outcome_of(Status::ok()); }

// The S3 multipart ETag: MD5 of the concatenated binary MD5s of the parts,
// then "-<number of parts>".
std::string multipart_etag(const std::vector<std::string>& part_etags_hex) {
    Hasher h(Hasher::Kind::md5);
    for (const auto& e : part_etags_hex) {
        std::string raw;
        if (from_hex(e, &raw)) h.update(raw);
    }
    return fmt::format("{}-{}", to_hex(h.finish()), part_etags_hex.size());
}

}  // namespace

Result<std::optional<StateMachine::UploadState>> StateMachine::load_upload(
    const std::string& bucket, const std::string& key, const std::string& upload_id) {
    Reader reader(engine_);
    CLEAVE_ASSIGN_OR_RETURN(auto up, reader.upload(bucket, key, upload_id));
    if (!up) return std::optional<UploadState>{};
    CLEAVE_ASSIGN_OR_RETURN(auto parts, reader.parts(bucket, key, upload_id, 0, kMaxParts + 1));
    return std::optional<UploadState>{UploadState{std::move(*up), std::move(parts)}};
}

void StateMachine::forget_upload(const std::string& pk, const std::string& upload_id,
                                 const UploadState& upload, storage::WriteBatch& b) {
    b.del(keys::upload(pk, upload_id));
    for (const auto& p : upload.parts) b.del(keys::part(pk, upload_id, p.part_number()));
}

ApplyOutcome StateMachine::engine_failure(const Status& s) {
    if (read_error_.is_ok()) read_error_ = s;
    return outcome_of(s);
}

void StateMachine::put_applied_index(storage::WriteBatch& batch, uint64_t index) {
    batch.put(applied_index_key(), keys::be64(index));
}

Result<uint64_t> StateMachine::load_applied_index() {
    auto raw = engine_.get(applied_index_key());
    if (!raw.is_ok()) return raw.status();
    // Whatever replaced the state (install_image) may have replaced the range.
    CLEAVE_RETURN_IF_ERROR(load_range().status());
    applied_index_ = raw->has_value() ? keys::parse_be64(**raw) : 0;
    return applied_index_;
}

void StateMachine::put_range(storage::WriteBatch& batch, const ShardDescriptor& range) {
    batch.put(range_key(), range.SerializeAsString());
}

Result<ShardDescriptor> StateMachine::load_range() {
    CLEAVE_ASSIGN_OR_RETURN(auto raw, read_range(engine_));
    ShardDescriptor range = raw.value_or(ShardDescriptor());  // absent: the whole keyspace
    range_ = range;
    range_loaded_ = true;
    return range;
}

Status StateMachine::check_owner(const Command& command) const {
    const std::optional<std::string> pk = command_pk(command);
    if (!pk || range_contains(range_, *pk)) return Status::ok();
    return Status(Errc::stale_epoch,
                  fmt::format("shard {} (epoch {}) does not own placement key {}: {}", range_.id(),
                              range_.epoch(), to_hex(*pk), describe_range(range_)));
}

Status StateMachine::bucket_exists(const std::string& bucket) {
    auto rec = Reader(engine_).bucket(bucket);
    if (!rec.is_ok()) {
        if (read_error_.is_ok()) read_error_ = rec.status();
        return rec.status();
    }
    if (!rec->has_value()) return Status(Errc::no_such_bucket, bucket);
    return Status::ok();
}

Status StateMachine::check_conditions(const std::string& pk, const Conditions& conditions) {
    if (!conditions.if_none_match_star() && !conditions.has_if_match()) return Status::ok();
    auto raw = engine_.get(keys::with_family(keys::kObject, pk));
    if (!raw.is_ok()) {
        if (read_error_.is_ok()) read_error_ = raw.status();
        return raw.status();
    }
    if (conditions.if_none_match_star() && raw->has_value()) {
        return Status::precondition_failed("If-None-Match: * and the object exists");
    }
    if (conditions.has_if_match()) {
        if (!raw->has_value()) return Status(Errc::no_such_key, "If-Match on an absent object");
        ObjectRecord current;
        if (!current.ParseFromString(**raw)) return Status::corruption("unparsable object record");
        if (current.etag() != conditions.if_match_etag()) {
            return Status::precondition_failed("If-Match does not match the current ETag");
        }
    }
    return Status::ok();
}

Result<ApplyOutcome> StateMachine::apply(uint64_t index, const Command& command) {
    CLEAVE_ASSERT(index == applied_index_ + 1, "apply out of order: index {} after {}", index,
                  applied_index_);
    if (!range_loaded_) CLEAVE_RETURN_IF_ERROR(load_range().status());
    storage::WriteBatch batch;
    read_error_ = Status::ok();
    next_range_.reset();
    // A command routed with an old shard map changes nothing here; its
    // proposer re-reads the map and retries at the shard that owns the key.
    Status owner = check_owner(command);
    ApplyOutcome outcome = owner.is_ok() ? dispatch(command, batch) : outcome_of(std::move(owner));
    // An engine read failure means we could not decide the outcome: stop.
    if (!read_error_.is_ok()) return read_error_;
    if (!outcome.status.is_ok()) batch.clear();
    put_applied_index(batch, index);
    // Not synced: the command log is durable, and a replay from the last
    // durable applied index reproduces anything lost here.
    CLEAVE_RETURN_IF_ERROR(engine_.write(batch, storage::WriteOptions{.sync = false}));
    applied_index_ = index;
    if (outcome.status.is_ok() && next_range_) range_ = *next_range_;
    return outcome;
}

ApplyOutcome StateMachine::dispatch(const Command& command, storage::WriteBatch& batch) {
    ApplyOutcome outcome;
    switch (command.op_case()) {
        case Command::kCreateBucket:
            outcome = apply_create_bucket(command, batch);
            break;
        case Command::kDeleteBucket:
            outcome = apply_delete_bucket(command.delete_bucket(), batch);
            break;
        case Command::kPutObject:
            outcome = apply_put_object(command.put_object(), batch);
            break;
        case Command::kDeleteObject:
            outcome = apply_delete_object(command.delete_object(), batch);
            break;
        case Command::kEnsureDirMarker:
            outcome = apply_ensure_dir_marker(command, batch);
            break;
        case Command::kCreateUpload:
            outcome = apply_create_upload(command.create_upload(), batch);
            break;
        case Command::kPutPart:
            outcome = apply_put_part(command.put_part(), batch);
            break;
        case Command::kCompleteUpload:
            outcome = apply_complete_upload(command, batch);
            break;
        case Command::kAbortUpload:
            outcome = apply_abort_upload(command.abort_upload(), batch);
            break;
        case Command::kRegisterNode: {
            const NodeRecord& n = command.register_node().node();
            if (n.id() == 0) {
                outcome = fail(Errc::invalid_argument, "node id 0");
                break;
            }
            // The draining mark is the operator's, not the node's: a
            // heartbeat keeps what the record says.
            NodeRecord rec = n;
            if (auto old = read_node(n.id())) rec.set_draining(old->draining());
            batch.put(keys::node(n.id()), rec.SerializeAsString());
            outcome = ok();
            break;
        }
        case Command::kSetNodeDraining: {
            const auto& d = command.set_node_draining();
            auto old = read_node(d.node());
            if (!old) {
                outcome = fail(Errc::not_found, fmt::format("no node {} registered", d.node()));
                break;
            }
            old->set_draining(d.draining());
            batch.put(keys::node(d.node()), old->SerializeAsString());
            outcome = ok();
            break;
        }
        case Command::kPutShard:
            outcome = apply_put_shard(command.put_shard(), batch);
            break;
        case Command::kSplit:
            outcome = apply_split(command.split(), batch);
            break;
        case Command::OP_NOT_SET:
            outcome = fail(Errc::invalid_argument, "empty command");
            break;
    }
    return outcome;
}

ApplyOutcome StateMachine::apply_split(const Split& c, storage::WriteBatch& b) {
    const ShardDescriptor& range = range_;
    const std::string& key = c.key();
    // Strictly inside: a cut at either end would leave one shard empty
    // forever. ("" as start is -infinity, and no key is below it.)
    if (key <= range.start() || (!range.end().empty() && key >= range.end())) {
        return fail(Errc::invalid_argument, fmt::format("split key {} is not strictly inside {}",
                                                        to_hex(key), describe_range(range)));
    }
    if (c.new_shard() == 0 || c.new_shard() == range.id()) {
        return fail(Errc::invalid_argument,
                    fmt::format("split of {} into shard {}: the new shard needs an id of its own",
                                describe_range(range), c.new_shard()));
    }
    if (split_host_ == nullptr) {
        return fail(Errc::invalid_argument, "this shard cannot split: no split host");
    }
    // Both halves keep everything else the descriptor says (e.g. replicas:
    // the child is born on the parent's replicas).
    ShardDescriptor child = range;
    if (c.voters_size() > 0) child.mutable_replicas()->Assign(c.voters().begin(), c.voters().end());
    child.set_id(c.new_shard());
    child.set_start(key);
    child.set_epoch(range.epoch() + 1);
    ShardDescriptor parent = range;
    parent.set_end(key);
    parent.set_epoch(range.epoch() + 1);

    // The child first, synced and reported ready, then the parent's batch:
    // until that batch lands a replay repeats the split (split_host.h).
    auto child_engine = split_host_->create_child(c.new_shard(), engine_);
    if (!child_engine.is_ok()) return engine_failure(child_engine.status());
    if (*child_engine != nullptr) {
        CLEAVE_ASSERT(*child_engine != &engine_, "split host returned the parent's engine");
        Status s = init_child(**child_engine, child, range.start());
        if (!s.is_ok()) return engine_failure(s);
    }
    put_range(b, parent);
    delete_placed(b, key, range.end());
    next_range_ = parent;
    ApplyOutcome out = ok();
    out.child = std::move(child);
    return out;
}

Status StateMachine::init_child(storage::Engine& child, const ShardDescriptor& child_range,
                                std::string_view parent_start) {
    storage::WriteBatch b;
    put_range(b, child_range);
    delete_placed(b, parent_start, child_range.start());
    // The parent's command log is not the child's: the child's starts empty,
    // so nothing of the parent's may be replayed into it.
    b.delete_range(std::string(1, keys::kLog), std::string(1, static_cast<char>(keys::kLog + 1)));
    put_applied_index(b, split_host_->child_base_index());
    CLEAVE_RETURN_IF_ERROR(child.write(b, storage::WriteOptions{.sync = false}));
    CLEAVE_RETURN_IF_ERROR(child.sync());
    return split_host_->child_ready(child_range.id());
}

std::optional<NodeRecord> StateMachine::read_node(uint64_t id) {
    auto v = engine_.get(keys::node(id));
    if (!v.is_ok()) {
        read_error_ = v.status();
        return std::nullopt;
    }
    if (!*v) return std::nullopt;
    NodeRecord rec;
    if (!rec.ParseFromString(**v)) return std::nullopt;
    return rec;
}

ApplyOutcome StateMachine::apply_put_shard(const PutShard& c, storage::WriteBatch& b) {
    const std::string key = keys::shard_descriptor(c.shard().id());
    if (c.only_if_absent()) {
        auto existing = engine_.get(key);
        if (!existing.is_ok()) return engine_failure(existing.status());
        if (existing->has_value()) return fail(Errc::already_exists, "shard descriptor exists");
    }
    b.put(key, c.shard().SerializeAsString());
    return ok();
}

ApplyOutcome StateMachine::apply_create_bucket(const Command& c, storage::WriteBatch& b) {
    const CreateBucket& cb = c.create_bucket();
    const std::string& name = cb.bucket();
    auto gone = engine_.get(keys::bucket_gone(name));
    if (!gone.is_ok()) return engine_failure(gone.status());
    // A mirror's create that reaches this shard after the delete that
    // removed the same incarnation here (a write's repair racing the delete)
    // would bring back a bucket the authority is deleting.
    if (cb.incarnation() != 0 && !cb.undo_delete() && gone->has_value() &&
        keys::parse_be64(**gone) >= cb.incarnation())
        return fail(Errc::no_such_bucket,
                    fmt::format("{} (incarnation {} was deleted)", name, cb.incarnation()));
    Status s = bucket_exists(name);
    if (s.is_ok()) return fail(Errc::already_exists, name);
    if (s.code() != Errc::no_such_bucket) return outcome_of(s);
    if (gone->has_value() && !cb.undo_delete()) {
        // A new creation of a deleted name: every shard was empty of it when
        // the delete completed, so the old directory markers (kept by the
        // delete in case another shard refused it) index nothing.
        b.delete_range(keys::with_family(keys::kMarker, meta::dir_markers_begin(name)),
                       keys::with_family(keys::kMarker, meta::dir_markers_end(name)));
    }
    BucketRecord rec;
    rec.set_name(name);
    rec.set_created_ms(c.time_ms());
    rec.set_incarnation(cb.incarnation() != 0 ? cb.incarnation() : applied_index_ + 1);
    b.put(keys::bucket(name), rec.SerializeAsString());
    b.del(keys::bucket_gone(name));
    return ok();
}

ApplyOutcome StateMachine::apply_delete_bucket(const DeleteBucket& c, storage::WriteBatch& b) {
    if (c.has_expected_range() && (c.expected_range().start() != range_.start() ||
                                   c.expected_range().end() != range_.end())) {
        // The sender's table predates a split of this shard: the keys that
        // left are not checked here, so it must ask their new owner too.
        return fail(
            Errc::stale_epoch,
            fmt::format("bucket {}: the sender expected {}, the shard is now {}", c.bucket(),
                        describe_range(c.expected_range()), describe_range(range_)));
    }
    auto rec = Reader(engine_).bucket(c.bucket());
    if (!rec.is_ok()) return engine_failure(rec.status());
    if (!rec->has_value()) return fail(Errc::no_such_bucket, c.bucket());
    auto empty = Reader(engine_).bucket_is_empty(c.bucket());
    if (!empty.is_ok()) return engine_failure(empty.status());
    if (!*empty) return fail(Errc::not_empty, c.bucket());
    b.del(keys::bucket(c.bucket()));
    b.put(keys::bucket_gone(c.bucket()), keys::be64((*rec)->incarnation()));
    // The directory markers stay: they index other shards' directories too,
    // and another shard may still refuse the delete (the delete then puts
    // this mirror back, and the listing needs them); a new creation of the
    // name removes them. The roots this shard held go: it holds no record
    // of the bucket now, and any new one adds its root again.
    const std::string roots = keys::roots_held_prefix(c.bucket());
    b.delete_range(roots, meta::prefix_successor(roots));
    return ok();
}

ApplyOutcome StateMachine::apply_put_object(const PutObject& c, storage::WriteBatch& b) {
    Status s = bucket_exists(c.bucket());
    if (!s.is_ok()) return outcome_of(s);
    std::string pk = meta::placement_key(c.bucket(), c.key());
    s = check_conditions(pk, c.conditions());
    if (!s.is_ok()) return outcome_of(s);
    b.put(keys::with_family(keys::kObject, pk), c.record().SerializeAsString());
    b.put(keys::root_held(c.bucket(), meta::root_of(c.key())), "");
    return outcome_of(Status::ok(), c.record());
}

ApplyOutcome StateMachine::apply_delete_object(const DeleteObject& c, storage::WriteBatch& b) {
    Status s = bucket_exists(c.bucket());
    if (!s.is_ok()) return outcome_of(s);
    b.del(keys::with_family(keys::kObject, meta::placement_key(c.bucket(), c.key())));
    return ok();
}

ApplyOutcome StateMachine::apply_ensure_dir_marker(const Command& c, storage::WriteBatch& b) {
    const EnsureDirMarker& m = c.ensure_dir_marker();
    Status s = bucket_exists(m.bucket());
    if (!s.is_ok()) return outcome_of(s);
    if (m.root().empty() || meta::root_of(m.root()) != m.root()) {
        return fail(Errc::invalid_argument, "a directory marker needs a root ending in '/'");
    }
    std::string key = keys::with_family(keys::kMarker, meta::dir_marker_key(m.bucket(), m.root()));
    DirMarker marker;
    marker.set_created_ms(c.time_ms());
    b.put(key, marker.SerializeAsString());
    return ok();
}

ApplyOutcome StateMachine::apply_create_upload(const CreateUpload& c, storage::WriteBatch& b) {
    Status s = bucket_exists(c.bucket());
    if (!s.is_ok()) return outcome_of(s);
    if (c.record().upload_id().size() != kUploadIdLength) {
        return fail(Errc::invalid_argument, "malformed upload id");
    }
    b.put(keys::upload(meta::placement_key(c.bucket(), c.key()), c.record().upload_id()),
          c.record().SerializeAsString());
    b.put(keys::root_held(c.bucket(), meta::root_of(c.key())), "");
    return ok();
}

ApplyOutcome StateMachine::apply_put_part(const PutPart& c, storage::WriteBatch& b) {
    std::string pk = meta::placement_key(c.bucket(), c.key());
    auto up = engine_.get(keys::upload(pk, c.upload_id()));
    if (!up.is_ok()) return engine_failure(up.status());
    if (!up->has_value()) return fail(Errc::no_such_upload, c.upload_id());
    b.put(keys::part(pk, c.upload_id(), c.record().part_number()), c.record().SerializeAsString());
    return ok();
}

ApplyOutcome StateMachine::apply_complete_upload(const Command& cmd, storage::WriteBatch& b) {
    const CompleteUpload& c = cmd.complete_upload();
    std::string pk = meta::placement_key(c.bucket(), c.key());
    auto loaded = load_upload(c.bucket(), c.key(), c.upload_id());
    if (!loaded.is_ok()) return engine_failure(loaded.status());
    if (!*loaded) return fail(Errc::no_such_upload, c.upload_id());
    if (c.parts_size() == 0) return fail(Errc::invalid_argument, "no parts to complete");
    const UploadState& upload = **loaded;
    std::map<uint32_t, const PartRecord*> by_number;
    for (const auto& p : upload.parts) by_number[p.part_number()] = &p;

    ObjectRecord record;
    Body* body = record.mutable_body();
    std::vector<std::string> etags;
    uint32_t previous = 0;
    for (int i = 0; i < c.parts_size(); ++i) {
        const auto& want = c.parts(i);
        if (want.part_number() <= previous) {
            return fail(Errc::invalid_part_order, "parts must be listed in ascending order");
        }
        previous = want.part_number();
        auto it = by_number.find(want.part_number());
        if (it == by_number.end() || it->second->etag() != want.etag()) {
            return fail(
                Errc::invalid_part,
                fmt::format("part {} was not uploaded or its ETag differs", want.part_number()));
        }
        const PartRecord& part = *it->second;
        bool last = i + 1 == c.parts_size();
        if (!last && part.body().size() < c.min_part_size()) {
            return fail(Errc::entity_too_small,
                        fmt::format("part {} is {} bytes, below the minimum of {}",
                                    part.part_number(), part.body().size(), c.min_part_size()));
        }
        for (const auto& chunk : part.body().chunks()) *body->add_chunks() = chunk;
        body->set_size(body->size() + part.body().size());
        etags.push_back(part.etag());
    }
    Status s = check_conditions(pk, c.conditions());
    if (!s.is_ok()) return outcome_of(s);
    record.set_etag(multipart_etag(etags));
    record.set_last_modified_ms(cmd.time_ms());
    *record.mutable_headers() = upload.upload.headers();
    record.set_parts_count(static_cast<uint32_t>(etags.size()));
    b.put(keys::with_family(keys::kObject, pk), record.SerializeAsString());
    forget_upload(pk, c.upload_id(), upload, b);
    return outcome_of(Status::ok(), std::move(record));
}

ApplyOutcome StateMachine::apply_abort_upload(const AbortUpload& c, storage::WriteBatch& b) {
    auto loaded = load_upload(c.bucket(), c.key(), c.upload_id());
    if (!loaded.is_ok()) return engine_failure(loaded.status());
    if (!*loaded) return fail(Errc::no_such_upload, c.upload_id());
    forget_upload(meta::placement_key(c.bucket(), c.key()), c.upload_id(), **loaded, b);
    return ok();
}

}  // namespace cleave::shard
