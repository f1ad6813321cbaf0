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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "shard/commands.pb.h"
#include "shard/records.pb.h"
#include "storage/engine.h"

namespace cleave::shard {

// What applying one command produced. `status` is the command's outcome for
// its proposer (e.g. precondition_failed): a failed outcome is still a
// successfully applied command (the index advances, nothing else changes).
struct ApplyOutcome {
    Status status;
    ObjectRecord object;  // PutObject / CompleteUpload: the record written
};

class StateMachine {
  public:
    explicit StateMachine(storage::Engine& engine) : engine_(engine) {}
    StateMachine(const StateMachine&) = delete;
    StateMachine& operator=(const StateMachine&) = delete;

    // The index of the last applied command (0 if none), read from the engine;
    // also refreshes the cached applied_index() (e.g. after install_image).
    Result<uint64_t> load_applied_index();

    // Applies the command logged at `index` (which must be applied_index + 1).
    // An error Result means the engine failed: the shard must stop applying.
    Result<ApplyOutcome> apply(uint64_t index, const Command& command);

    uint64_t applied_index() const { return applied_index_; }

    // Adds to `batch` the write that records `index` as the applied index, in
    // the one format load_applied_index() reads. For code that replaces the
    // state wholesale (snapshot_image.h); it must call load_applied_index()
    // on any StateMachine over the engine afterwards, as that caches it.
    static void put_applied_index(storage::WriteBatch& batch, uint64_t index);

  private:
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
    uint64_t applied_index_ = 0;
    Status read_error_;  // first engine read error of the current apply
};

}  // namespace cleave::shard
