#include "node/shard_group.h"

#include "node/node.pb.h"
#include "shard/snapshot_image.h"

namespace cleave::node {

Result<std::unique_ptr<ShardGroup>> ShardGroup::open(storage::Engine& engine,
                                                     shard::SplitHost* split_host) {
    std::unique_ptr<ShardGroup> g(new ShardGroup(engine, split_host));
    CLEAVE_RETURN_IF_ERROR(g->sm_.load_applied_index().status());
    return g;
}

Result<std::string> ShardGroup::apply(uint64_t index, std::string_view command) {
    shard::Command c;  // empty: a no-op entry, which only advances the index
    if (!command.empty() && !c.ParseFromArray(command.data(), static_cast<int>(command.size()))) {
        // Deterministic on every replica: the same bytes fail the same way.
        c.Clear();
    }
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, sm_.apply(index, c));
    return encode_outcome(outcome);
}

Result<std::pair<uint64_t, std::string>> ShardGroup::snapshot() {
    // Called from the apply thread: nothing applies meanwhile, so the image
    // is the state at applied_index(). Synced so the log behind it may go.
    CLEAVE_RETURN_IF_ERROR(engine_.sync());
    auto snap = engine_.snapshot();
    CLEAVE_ASSIGN_OR_RETURN(std::string image, shard::build_image(engine_, snap.get()));
    return std::make_pair(sm_.applied_index(), std::move(image));
}

Status ShardGroup::install(uint64_t index, std::string_view image) {
    CLEAVE_RETURN_IF_ERROR(shard::install_image(engine_, image, index));
    CLEAVE_RETURN_IF_ERROR(sm_.load_applied_index().status());
    if (on_install_) on_install_();
    return Status::ok();
}

std::string encode_outcome(const shard::ApplyOutcome& outcome) {
    ApplyResult r;
    r.set_code(static_cast<int32_t>(outcome.status.code()));
    r.set_message(outcome.status.message());
    *r.mutable_object() = outcome.object;
    return r.SerializeAsString();
}

Result<shard::ApplyOutcome> decode_outcome(std::string_view bytes) {
    ApplyResult r;
    if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return Status::corruption("undecodable apply result");
    shard::ApplyOutcome out;
    if (r.code() != 0) out.status = Status(static_cast<Errc>(r.code()), r.message());
    out.object = std::move(*r.mutable_object());
    return out;
}

}  // namespace cleave::node
