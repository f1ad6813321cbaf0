#pragma once
// The node's chunk store (DESIGN.md §6): immutable chunks of object data,
// each named by the SHA-256 of its bytes, one file per chunk.
//
// Layout under the node's data directory:
//
//   <data>/chunks/ab/ab3f…(64 hex digits)   a chunk, fanned out by its first byte
//   <data>/chunks/tmp/<hex>.<n>.tmp          a write in progress
//
// Durability: put() writes a temporary file in the same filesystem, fsyncs
// it, renames it to its final name and fsyncs the directory; only then does
// it return. A crash at any moment leaves either no chunk or the whole chunk
// (plus perhaps a stale temporary file, which garbage collection removes).
//
// Integrity: get() re-hashes every chunk it reads. A chunk whose bytes do not
// match its name is never returned: get() reports corruption naming the chunk
// and logs an error line with its id.
//
// Garbage collection is mark and sweep with a grace period: the caller says
// which chunks are referenced; unreferenced chunks whose file is older than the
// grace period are removed. The grace period protects writes in flight (a
// chunk is put before the metadata that references it is committed), so it
// must exceed the longest time between a put() and that commit. put() of a
// chunk that already exists refreshes its modification time, so deduplicated
// writes are protected the same way.
//
// Threading: every method may be called from any thread concurrently.

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "blob/chunk_id.h"
#include "blob/chunk_source.h"
#include "blob/file_system.h"
#include "common/status.h"

namespace cleave::blob {

struct ChunkInfo {
    ChunkId id;
    uint64_t size_bytes = 0;
    int64_t mtime_ms = 0;  // ms since the Unix epoch
};

struct ChunkGcStats {
    uint64_t chunks_seen = 0;
    uint64_t chunks_removed = 0;
    uint64_t bytes_removed = 0;
    uint64_t chunks_kept_young = 0;  // unreferenced but inside the grace period
    uint64_t temp_files_removed = 0;
};

struct ChunkStoreOptions {
    // Largest chunk put() accepts (and get() reads).
    uint64_t max_chunk_bytes = 4ull << 20;
    // The filesystem to use; null = the real one. Must outlive the store.
    FileSystem* fs = nullptr;
};

class ChunkStore final : public ChunkSource {
  public:
    // Opens the store under `data_dir` (creating <data_dir>/chunks if
    // missing). Chunks already there are served. Errors: io_error.
    static Result<std::unique_ptr<ChunkStore>> open(const std::string& data_dir,
                                                    ChunkStoreOptions options = {});
    ChunkStore(const ChunkStore&) = delete;
    ChunkStore& operator=(const ChunkStore&) = delete;

    // Stores `data` durably and returns its id. Idempotent: if the chunk is
    // already present (and intact) it is not rewritten, only its mtime is
    // refreshed; a present but damaged copy is replaced. Errors: too_large
    // (over max_chunk_bytes), io_error (nothing was acknowledged; a stale
    // temporary file may remain for GC).
    Result<ChunkId> put(std::string_view data);
    // Like put(), for a chunk whose id the caller already knows (e.g. received
    // from a peer): corruption, and nothing stored, if `data` does not hash to
    // `expected`.
    Status put_expecting(const ChunkId& expected, std::string_view data);

    // The chunk's bytes, verified against its id. not_found if absent;
    // corruption if the bytes on disk do not match (logged, bytes never
    // returned); invalid_argument for a malformed id; io_error.
    Result<std::string> get(const ChunkId& id) override;
    // Whether the chunk's file exists (not verified).
    Result<bool> contains(const ChunkId& id);
    // Removes the chunk durably. OK if it was already absent.
    Status remove(const ChunkId& id);
    // The chunk's size in bytes; not_found if absent.
    Result<uint64_t> size(const ChunkId& id);
    // Every chunk in the store, in no particular order. Files whose names are
    // not chunk ids are skipped.
    Result<std::vector<ChunkInfo>> list();

    // Removes every chunk for which is_referenced(id) is false and whose mtime
    // is at least grace_ms before now_ms, and every temporary file that old.
    // is_referenced is called without any store lock held. A chunk put again
    // (refreshed) between the mark and its removal is kept.
    Result<ChunkGcStats> collect_garbage(const std::function<bool(const ChunkId&)>& is_referenced,
                                         int64_t grace_ms, int64_t now_ms);

    // <data_dir>/chunks/<ab>/<hex>: where a chunk lives (for tests, scrubbers).
    std::string path_of(const ChunkId& id) const;
    const std::string& root() const { return root_; }

  private:
    ChunkStore(std::string root, ChunkStoreOptions options, FileSystem& fs);

    Status put_with_id(const ChunkId& id, std::string_view data);
    // Reads and verifies; a mismatch is logged and reported as corruption.
    Result<std::string> read_verified(const ChunkId& id, const std::string& path);
    std::string dir_of(const ChunkId& id) const;
    std::string temp_dir() const { return root_ + "/tmp"; }
    std::mutex& stripe(const ChunkId& id) { return stripes_[id.bytes()[0] & 0xff]; }

    const std::string root_;
    const ChunkStoreOptions options_;
    FileSystem& fs_;
    // Serialises, per chunk (striped by its first byte), the "does it exist?
    // refresh it : rename it into place" step of put() with removal, so a GC
    // never removes a chunk between put()'s check and its return.
    std::array<std::mutex, 256> stripes_;
    std::mutex temp_mu_;
    uint64_t temp_counter_ = 0;  // guarded by temp_mu_
};

}  // namespace cleave::blob
