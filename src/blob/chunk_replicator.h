#pragma once
// Where a writer sends each chunk after storing it locally: in a cluster, to
// the other voters of the shard whose object references it (DESIGN.md §6),
// so a shard's chunks live where its metadata does and move with it. replicate() returns once
// enough replicas hold the chunk durably (a majority of the shard's voters, counting this node), so
// the metadata that references it can be proposed.

#include <cstdint>
#include <string_view>

#include "blob/chunk_id.h"
#include "common/status.h"

namespace cleave::blob {

class ChunkReplicator {
  public:
    virtual ~ChunkReplicator() = default;
    virtual Status replicate(const ChunkId& id, std::string_view data, uint64_t shard) = 0;
};

}  // namespace cleave::blob
