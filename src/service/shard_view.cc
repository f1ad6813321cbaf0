#include "service/shard_view.h"

#include "common/assert.h"
#include "meta/keyspace.h"

namespace cleave::service {

ShardView::ShardView(std::vector<ShardRoute> table) : table_(std::move(table)) {
    CLEAVE_ASSERT(!table_.empty(), "a routing table covers every key");
}

storage::Engine& ShardView::engine() {
    const ShardRoute& only = table_.front();
    if (table_.size() == 1 && only.start.empty() && only.end.empty()) return *only.engine;
    if (!routed_) {
        std::vector<shard::RoutedShard> shards;
        for (const auto& r : table_) shards.push_back({r.id, r.start, r.end, r.engine});
        routed_ = std::make_unique<shard::RoutedEngine>(std::move(shards));
    }
    return *routed_;
}

const ShardRoute& ShardView::route(std::string_view pk) const {
    size_t i = 0;
    while (i + 1 < table_.size() && table_[i + 1].start <= pk) ++i;
    return table_[i];
}

Status ShardView::barrier(std::string_view pk) const { return route(pk).replica->read_barrier(); }

Status ShardView::barrier_all() const {
    for (const auto& r : table_) CLEAVE_RETURN_IF_ERROR(r.replica->read_barrier());
    return Status::ok();
}

std::string command_bucket(const shard::Command& c) {
    switch (c.op_case()) {
        case shard::Command::kPutObject:
            return c.put_object().bucket();
        case shard::Command::kDeleteObject:
            return c.delete_object().bucket();
        case shard::Command::kEnsureDirMarker:
            return c.ensure_dir_marker().bucket();
        case shard::Command::kCreateUpload:
            return c.create_upload().bucket();
        case shard::Command::kPutPart:
            return c.put_part().bucket();
        case shard::Command::kCompleteUpload:
            return c.complete_upload().bucket();
        case shard::Command::kAbortUpload:
            return c.abort_upload().bucket();
        default:
            return {};
    }
}

std::optional<std::string> command_pk(const shard::Command& c) {
    switch (c.op_case()) {
        case shard::Command::kPutObject:
            return meta::placement_key(c.put_object().bucket(), c.put_object().key());
        case shard::Command::kDeleteObject:
            return meta::placement_key(c.delete_object().bucket(), c.delete_object().key());
        case shard::Command::kEnsureDirMarker:
            return meta::dir_marker_key(c.ensure_dir_marker().bucket(),
                                        c.ensure_dir_marker().root());
        case shard::Command::kCreateUpload:
            return meta::placement_key(c.create_upload().bucket(), c.create_upload().key());
        case shard::Command::kPutPart:
            return meta::placement_key(c.put_part().bucket(), c.put_part().key());
        case shard::Command::kCompleteUpload:
            return meta::placement_key(c.complete_upload().bucket(), c.complete_upload().key());
        case shard::Command::kAbortUpload:
            return meta::placement_key(c.abort_upload().bucket(), c.abort_upload().key());
        default:
            return std::nullopt;
    }
}

}  // namespace cleave::service
