#pragma once
// Where readers get verified chunk bytes from: the node's chunk store, or a
// cache in front of it (src/cache), or later a peer. Every implementation
// returns only bytes that hash to the id asked for.

#include <string>

#include "blob/chunk_id.h"
#include "common/status.h"

namespace cleave::blob {

class ChunkSource {
  public:
    virtual ~ChunkSource() = default;
    // The chunk's bytes, verified against `id`. not_found if absent;
    // corruption if the only copy is damaged (never returned).
    virtual Result<std::string> get(const ChunkId& id) = 0;
};

}  // namespace cleave::blob
