#pragma once
// Chunks across nodes (DESIGN.md §6):
//   PeerChunkReplicator  a written chunk goes to the shard's other voters in
//                        parallel; the write goes on once a majority of the
//                        voters (this node included) hold it durably.
//   PeerChunkSource      reads take the local copy, or fetch a missing chunk
//                        from a peer, verify it against its id, keep it.

#include <functional>
#include <vector>

#include "blob/chunk_replicator.h"
#include "blob/chunk_source.h"
#include "blob/chunk_store.h"
#include "node/remote.h"

namespace cleave::node {

// The other members of a shard (excluding this node), how many voters the
// group has in all, and whether this node is one of them (a gateway is not:
// its own copy of a chunk it wrote counts for nothing). Asked for shard 0,
// every other node that may hold chunks: whom a read asks.
struct ShardPeers {
    std::vector<uint64_t> others;
    size_t voters = 1;
    bool self_voter = true;
};
using PeersFn = std::function<ShardPeers(uint64_t shard)>;

class PeerChunkReplicator final : public blob::ChunkReplicator {
  public:
    PeerChunkReplicator(Remote& remote, PeersFn peers)
        : remote_(remote), peers_(std::move(peers)) {}
    Status replicate(const blob::ChunkId& id, std::string_view data, uint64_t shard) override;

  private:
    Remote& remote_;
    PeersFn peers_;
};

class PeerChunkSource final : public blob::ChunkSource {
  public:
    // `keep`: store a fetched chunk locally (a replica repairing its copy);
    // a gateway only verifies it and passes it on.
    PeerChunkSource(blob::ChunkStore& local, Remote& remote, PeersFn peers, bool keep = true)
        : local_(local), remote_(remote), peers_(std::move(peers)), keep_(keep) {}
    Result<std::string> get(const blob::ChunkId& id) override;
    // Fetches the chunk from a peer into the local store if it is missing.
    Status ensure_local(const blob::ChunkId& id);

  private:
    blob::ChunkStore& local_;
    Remote& remote_;
    PeersFn peers_;
    const bool keep_;
};

std::string chunk_put_request(const blob::ChunkId& id, std::string_view data);
std::string chunk_get_request(const blob::ChunkId& id);
// The receiving node's side of both requests.
Result<std::string> serve_chunk_request(blob::ChunkStore& store, std::string_view body);

}  // namespace cleave::node
