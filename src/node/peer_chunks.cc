#include "node/peer_chunks.h"

#include "common/logging.h"
#include "multiraft/wire.h"

namespace cleave::node {

using std::chrono::milliseconds;

namespace {
constexpr size_t kIdBytes = 32;
constexpr milliseconds kChunkTimeout{30000};

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("node");
    return l;
}
}  // namespace

std::string chunk_put_request(const blob::ChunkId& id, std::string_view data) {
    std::string out(1, multiraft::wire::kChunkPut);
    out += blob::chunk_id_bytes(id);
    out += data;
    return out;
}

std::string chunk_get_request(const blob::ChunkId& id) {
    std::string out(1, multiraft::wire::kChunkGet);
    out += blob::chunk_id_bytes(id);
    return out;
}

Result<std::string> serve_chunk_request(blob::ChunkStore& store, std::string_view body) {
    if (body.size() < 1 + kIdBytes) return Status::invalid_argument("short chunk request");
    const blob::ChunkId id = blob::chunk_id_from_bytes(body.substr(1, kIdBytes));
    if (body[0] == multiraft::wire::kChunkPut) {
        // put_expecting verifies the bytes against the id before keeping them.
        CLEAVE_RETURN_IF_ERROR(store.put_expecting(id, body.substr(1 + kIdBytes)));
        return std::string();
    }
    return store.get(id);
}

Status PeerChunkReplicator::replicate(const blob::ChunkId& id, std::string_view data,
                                      uint64_t shard) {
    const ShardPeers p = peers_(shard);
    const size_t majority = p.voters / 2 + 1;
    // This node's own copy counts only when it is a voter.
    const size_t need = p.self_voter ? majority - 1 : majority;
    if (need == 0) return Status::ok();
    if (!remote_.call_quorum(p.others, chunk_put_request(id, data), need, kChunkTimeout)) {
        return Status::unavailable(
            fmt::format("chunk {} reached fewer than {} other replicas", id.hex(), need));
    }
    return Status::ok();
}

Status PeerChunkSource::ensure_local(const blob::ChunkId& id) {
    CLEAVE_ASSIGN_OR_RETURN(bool here, local_.contains(id));
    if (here) return Status::ok();
    CLEAVE_ASSIGN_OR_RETURN(std::string data, get(id));
    // get() verified it; a gateway's source does not keep what it fetches,
    // but a node repairing its own replica must.
    return keep_ ? Status::ok() : local_.put_expecting(id, data);
}

Result<std::string> PeerChunkSource::get(const blob::ChunkId& id) {
    auto local = local_.get(id);
    if (local.is_ok() || local.status().code() != Errc::not_found) return local;
    Status last = local.status();
    const std::vector<uint64_t> peers = peers_(0).others;
    // Connected peers first (a dead one costs nothing); then, if none of
    // them had it, wait for connections (this node may have just started).
    for (const bool connected_only : {true, false}) {
        for (uint64_t peer : peers) {
            bool sent = false;
            auto r = connected_only ? remote_.call_if_connected(peer, chunk_get_request(id),
                                                                kChunkTimeout, &sent)
                                    : remote_.call(peer, chunk_get_request(id), kChunkTimeout);
            if (!r.is_ok()) {
                last = r.status();
                continue;
            }
            // Keeping it verifies it: a peer's damaged copy is refused here.
            Status kept = keep_ ? local_.put_expecting(id, *r)
                          : blob::ChunkId::of(*r) == id
                              ? Status::ok()
                              : Status::corruption("chunk bytes do not match the chunk id");
            if (!kept.is_ok()) {
                log()->warn("chunk {} from node {} refused: {}", id.hex(), peer, kept.to_string());
                last = kept;
                continue;
            }
            return std::move(*r);
        }
    }
    return last;
}

}  // namespace cleave::node
