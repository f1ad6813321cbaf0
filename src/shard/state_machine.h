#pragma once
// A shard's deterministic state machine. apply(index, command) turns one
// logged Command into one atomic engine batch that also records `index` as
// the applied index, so a replay after a crash resumes exactly where the
// engine's durable state ends.
//
// Determinism: the outcome depends only on the engine's state and the
// command's bytes. No clock, no RNG, no I/O besides the engine (time and ids
// come inside the command). Every replica applying the same log reaches the
// same state.
//
// Threading: apply() calls must be serialised by the caller (one apply loop
// per shard); reads through the engine may run concurrently.
//
// Ranges (shard_range.h). The shard owns the placement keys of its range,
// kept in its engine at keys::state("range"); without that record it owns
// every pk. A command on a key (object, marker, upload, part) outside the
// range is refused with stale_epoch and changes nothing: its proposer routed
// it with an old shard map. Bucket commands (the shard's mirror of a bucket)
// and meta-shard commands carry no pk and are not checked.
//
// Split at index i cuts [start, end) at `key`: a child shard, whose engine the
// SplitHost (split_host.h) makes as a copy of this one, keeps [key, end) and
// starts with an empty log (applied index 0); this shard keeps [start, key).
// Both move to epoch e+1. See split_host.h for the order of the writes and
// why a replay after a crash at any point ends in the same two shards.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "shard/commands.pb.h"
#include "shard/records.pb.h"
#include "shard/split_host.h"
#include "storage/engine.h"

namespace cleave::shard {

// What applying one command produced. `status` is the command's outcome for
// its proposer (e.g. precondition_failed): a failed outcome is still a
// successfully applied command (the index advances, nothing else changes).
struct ApplyOutcome {
    Status status;
    ObjectRecord object;                   // PutObject / CompleteUpload: the record written
    std::optional<ShardDescriptor> child;  // Split: the new shard's range
};

class StateMachine {
  public:
    // `split_host`, when given, must outlive the StateMachine; without one a
    // Split is refused (invalid_argument) and changes nothing.
    explicit StateMachine(storage::Engine& engine, SplitHost* split_host = nullptr)
        : engine_(engine), split_host_(split_host) {}
    StateMachine(const StateMachine&) = delete;
    StateMachine& operator=(const StateMachine&) = delete;

    // The index of the last applied command (0 if none), read from the engine;
    // also refreshes the cached applied_index() and range() (e.g. after
    // install_image).
    Result<uint64_t> load_applied_index();

    // The shard's range, read from the engine (an absent record is the whole
    // keyspace, id 0, epoch 0); refreshes the cached range(). apply() loads it
    // on first use, so a caller that never calls this still checks ownership.
    Result<ShardDescriptor> load_range();

    // Applies the command logged at `index` (which must be applied_index + 1).
    // An error Result means the engine failed: the shard must stop applying.
    Result<ApplyOutcome> apply(uint64_t index, const Command& command);

    uint64_t applied_index() const { return applied_index_; }
    // The cached range: as of the last load or apply (the whole keyspace
    // before either).
    const ShardDescriptor& range() const { return range_; }

    // Adds to `batch` the write that records `index` as the applied index, in
    // the one format load_applied_index() reads. For code that replaces the
    // state wholesale (snapshot_image.h); it must call load_applied_index()
    // on any StateMachine over the engine afterwards, as that caches it.
    static void put_applied_index(storage::WriteBatch& batch, uint64_t index);

    // Adds to `batch` the write that records `range` as the shard's own range,
    // in the format load_range() reads. For code that initialises a shard's
    // engine ("this is shard 1, ["", ""), epoch 1"); a StateMachine
    // already over the engine must call load_range() afterwards.
    static void put_range(storage::WriteBatch& batch, const ShardDescriptor& range);

  private:
    // The command's effect in `b` and its outcome, once its pk is known owned.
    ApplyOutcome dispatch(const Command& command, storage::WriteBatch& b);
    ApplyOutcome apply_create_bucket(const Command& c, storage::WriteBatch& b);
    ApplyOutcome apply_delete_bucket(const DeleteBucket& c, storage::WriteBatch& b);
    ApplyOutcome apply_put_object(const PutObject& c, storage::WriteBatch& b);
    ApplyOutcome apply_delete_object(const DeleteObject& c, storage::WriteBatch& b);
    ApplyOutcome apply_ensure_dir_marker(const Command& c, storage::WriteBatch& b);
    ApplyOutcome apply_create_upload(const CreateUpload& c, storage::WriteBatch& b);
    ApplyOutcome apply_put_part(const PutPart& c, storage::WriteBatch& b);
    ApplyOutcome apply_complete_upload(const Command& c, storage::WriteBatch& b);
    ApplyOutcome apply_abort_upload(const AbortUpload& c, storage::WriteBatch& b);
    ApplyOutcome apply_put_shard(const PutShard& c, storage::WriteBatch& b);
    ApplyOutcome apply_split(const Split& c, storage::WriteBatch& b);
    // Writes the child's initial state into its engine and reports it ready.
    Status init_child(storage::Engine& child, const ShardDescriptor& child_range,
                      std::string_view parent_start);
    // Refusal (stale_epoch) of a command whose pk this shard does not own;
    // ok when it owns it or the command carries no pk.
    Status check_owner(const Command& command) const;
    // The registered record of a node (none if absent; sets read_error_ on failure).
    std::optional<NodeRecord> read_node(uint64_t id);

    // A multipart upload and its parts, as stored.
    struct UploadState {
        UploadRecord upload;
        std::vector<PartRecord> parts;
    };
    static constexpr uint32_t kMaxParts = 10000;
    Result<std::optional<UploadState>> load_upload(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id);
    // Deletes the upload and its parts in `b`.
    void forget_upload(const std::string& pk, const std::string& upload_id,
                       const UploadState& upload, storage::WriteBatch& b);
    // Records an engine read failure (it aborts the apply) and returns it.
    ApplyOutcome engine_failure(const Status& s);

    // Engine reads used while applying; an engine error aborts the apply.
    Status bucket_exists(const std::string& bucket);
    Status check_conditions(const std::string& pk, const Conditions& conditions);

    storage::Engine& engine_;
    SplitHost* const split_host_;  // optional; not owned
    uint64_t applied_index_ = 0;
    ShardDescriptor range_;  // cached; valid when range_loaded_
    bool range_loaded_ = false;
    // Set by a Split while applying: range_ once its batch is written.
    std::optional<ShardDescriptor> next_range_;
    Status read_error_;  // first engine (or split host) error of the current apply
};

}  // namespace cleave::shard
