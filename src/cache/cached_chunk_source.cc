#include "cache/cached_chunk_source.h"

#include "common/logging.h"
#include "common/metrics.h"

namespace cleave::cache {

namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto l = module_logger("cache");
    return l;
}

}  // namespace

Result<std::string> CachedChunkSource::get(const blob::ChunkId& id) {
    static auto& hits = metrics::counter("cleave_chunk_cache_hits_total",
                                         "Chunk reads served from the chunk cache");
    static auto& misses = metrics::counter(
        "cleave_chunk_cache_misses_total",
        "Chunk reads the chunk cache could not serve (not cached, damaged, or cache unavailable)");
    static auto& corrupt = metrics::counter(
        "cleave_chunk_cache_corrupt_total",
        "Chunk cache entries whose bytes did not hash to their chunk id (dropped, never served)");

    if (!id.valid()) return store_.get(id);  // the store names the problem
    auto cached = cache_.get(id);
    if (cached.is_ok() && cached->has_value()) {
        const blob::ChunkId actual = blob::ChunkId::of(**cached);
        if (actual == id) {
            hits.add();
            return std::move(**cached);
        }
        corrupt.add();
        logger()->error(
            "chunk cache entry for chunk {} is damaged ({} bytes hashing to {}); dropped, "
            "reading the chunk store instead",
            id.hex(), (*cached)->size(), actual.hex());
        cache_.remove(id).ignore();  // best effort; a failure is logged by the cache
    }
    // A failed cache call was logged (rate-limited) by the cache itself.
    misses.add();
    CLEAVE_ASSIGN_OR_RETURN(std::string data, store_.get(id));
    cache_.put(id, data).ignore();  // best effort, as above
    return data;
}

}  // namespace cleave::cache
