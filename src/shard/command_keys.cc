#include "shard/command_keys.h"

#include "meta/keyspace.h"

namespace cleave::shard {

// Every command is listed in both switches, so a new one must decide
// (-Wswitch).

std::optional<std::string> command_pk(const Command& c) {
    switch (c.op_case()) {
        case Command::kPutObject:
            return meta::placement_key(c.put_object().bucket(), c.put_object().key());
        case Command::kDeleteObject:
            return meta::placement_key(c.delete_object().bucket(), c.delete_object().key());
        case Command::kEnsureDirMarker:
            return meta::dir_marker_key(c.ensure_dir_marker().bucket(),
                                        c.ensure_dir_marker().root());
        case Command::kCreateUpload:
            return meta::placement_key(c.create_upload().bucket(), c.create_upload().key());
        case Command::kPutPart:
            return meta::placement_key(c.put_part().bucket(), c.put_part().key());
        case Command::kCompleteUpload:
            return meta::placement_key(c.complete_upload().bucket(), c.complete_upload().key());
        case Command::kAbortUpload:
            return meta::placement_key(c.abort_upload().bucket(), c.abort_upload().key());
        case Command::kCreateBucket:
        case Command::kDeleteBucket:
        case Command::kRegisterNode:
        case Command::kPutShard:
        case Command::kSetNodeDraining:
        case Command::kSplit:  // checks its key against the range itself
        case Command::OP_NOT_SET:
            return std::nullopt;
    }
    return std::nullopt;
}

std::string command_bucket(const Command& c) {
    switch (c.op_case()) {
        case Command::kPutObject:
            return c.put_object().bucket();
        case Command::kDeleteObject:
            return c.delete_object().bucket();
        case Command::kEnsureDirMarker:
            return c.ensure_dir_marker().bucket();
        case Command::kCreateUpload:
            return c.create_upload().bucket();
        case Command::kPutPart:
            return c.put_part().bucket();
        case Command::kCompleteUpload:
            return c.complete_upload().bucket();
        case Command::kAbortUpload:
            return c.abort_upload().bucket();
        case Command::kCreateBucket:
        case Command::kDeleteBucket:
        case Command::kRegisterNode:
        case Command::kPutShard:
        case Command::kSetNodeDraining:
        case Command::kSplit:
        case Command::OP_NOT_SET:
            return {};
    }
    return {};
}

}  // namespace cleave::shard
