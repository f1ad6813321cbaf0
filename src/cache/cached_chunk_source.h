#pragma once
// CachedChunkSource: the chunk store behind a chunk cache (DESIGN.md §8), as
// the ChunkSource readers read from.
//
//   get(id) ──▶ cache.get(id) ── bytes hash to id ──▶ return      (hits)
//                  │   └──────── bytes do not hash ─▶ drop entry,  (corrupt)
//                  │                                  log, ↓
//                  └─ not cached / cache error ─────▶ store.get(id) (misses)
//                                                      └▶ cache.put (best effort)
//
// Counters: cleave_chunk_cache_hits_total, cleave_chunk_cache_misses_total
// (including reads that bypassed a failing cache), and
// cleave_chunk_cache_corrupt_total; the store counts its own reads
// (cleave_chunk_store_reads_total).
//
// A cache failure never fails a read: only the store's answer can.
//
// Threading: thread-safe if the cache and the store are.

#include "blob/chunk_source.h"
#include "cache/chunk_cache.h"

namespace cleave::cache {

class CachedChunkSource final : public blob::ChunkSource {
  public:
    // Both must outlive this object.
    CachedChunkSource(ChunkCache& cache, blob::ChunkSource& store) : cache_(cache), store_(store) {}
    CachedChunkSource(const CachedChunkSource&) = delete;
    CachedChunkSource& operator=(const CachedChunkSource&) = delete;

    // Verified bytes of `id`: from the cache when it holds a good copy, else
    // from the store (then cached). Errors are the store's (not_found,
    // corruption, io_error, invalid_argument).
    Result<std::string> get(const blob::ChunkId& id) override;

  private:
    ChunkCache& cache_;
    blob::ChunkSource& store_;
};

}  // namespace cleave::cache
