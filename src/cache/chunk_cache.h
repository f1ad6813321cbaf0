#pragma once
// A cache of chunk bytes by chunk id (DESIGN.md §8). Chunks are immutable and
// named by their SHA-256, so an entry can never be stale — but it can be
// damaged (a bad disk or a bug in the cache server), so whoever reads from a
// cache verifies the bytes before use (CachedChunkSource does).
//
// A cache is an optimisation, never a source of truth: callers treat every
// error as "not cached" and go to the chunk store.
//
// Threading: implementations are thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "blob/chunk_id.h"
#include "common/status.h"

namespace cleave::cache {

class ChunkCache {
  public:
    virtual ~ChunkCache() = default;
    // The cached bytes for `id` (NOT verified), nullopt if not cached; an
    // error (e.g. unavailable) if the cache could not be asked.
    virtual Result<std::optional<std::string>> get(const blob::ChunkId& id) = 0;
    // Caches `data` as the bytes of `id`; the caller vouches that they hash
    // to `id`. The cache may drop it at any time (eviction).
    virtual Status put(const blob::ChunkId& id, std::string_view data) = 0;
    // Drops the entry for `id`; OK if there was none.
    virtual Status remove(const blob::ChunkId& id) = 0;
};

}  // namespace cleave::cache
