#include "service/shard_view.h"

#include "common/assert.h"

namespace cleave::service {

ShardView::ShardView(std::vector<ShardRoute> table) : table_(std::move(table)) {
    CLEAVE_ASSERT(!table_.empty(), "a routing table covers every key");
}

storage::Engine& ShardView::engine() {
    // Always through the routed view, even for one shard owning everything:
    // on a cluster the table may predate a split (the map lags), and only
    // the shard's own range record, read in the same snapshot, can tell.
    if (!routed_) {
        std::vector<shard::RoutedShard> shards;
        for (const auto& r : table_)
            shards.push_back({r.id, r.start, r.end, r.engine, r.checks_owner});
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

}  // namespace cleave::service
