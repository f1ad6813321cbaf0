#include "blob/chunk_store.h"

#include "common/metrics.h"

#include <unistd.h>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/logging.h"

namespace cleave::blob {

// Counted so tests and operators can see which reads a cache saved; created
// when a store opens so it is exported (as 0) before the first read.
static metrics::Counter& store_reads() {
    static auto& reads = metrics::counter("cleave_chunk_store_reads_total",
                                          "Chunk reads served from the node's chunk store");
    return reads;
}

namespace {

constexpr std::string_view kTempSuffix = ".tmp";

std::shared_ptr<spdlog::logger> logger() { return module_logger("blob"); }

Status malformed() { return Status::invalid_argument("malformed chunk id (not 32 bytes)"); }

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// ------------------------------------------------------------------ ChunkId --

ChunkId ChunkId::of(std::string_view data) { return from_bytes(sha256(data)); }

ChunkId ChunkId::from_bytes(std::string_view raw) {
    ChunkId id;
    if (raw.size() != kSize) return id;
    std::memcpy(id.raw_.data(), raw.data(), kSize);
    id.valid_ = true;
    return id;
}

ChunkId ChunkId::from_hex(std::string_view hex) {
    std::string raw;
    // Only lowercase names are ours; an uppercase twin would be a second file
    // for the same chunk.
    for (char c : hex) {
        if (c >= 'A' && c <= 'F') return ChunkId();
    }
    if (hex.size() != 2 * kSize || !cleave::from_hex(hex, &raw)) return ChunkId();
    return from_bytes(raw);
}

std::string ChunkId::hex() const { return valid_ ? to_hex(bytes()) : std::string("<malformed>"); }

// --------------------------------------------------------------- ChunkStore --

ChunkStore::ChunkStore(std::string root, ChunkStoreOptions options, FileSystem& fs)
    : root_(std::move(root)), options_(options), fs_(fs) {}

Result<std::unique_ptr<ChunkStore>> ChunkStore::open(const std::string& data_dir,
                                                     ChunkStoreOptions options) {
    store_reads();  // exported from the start
    if (data_dir.empty()) return Status::invalid_argument("chunk store needs a data directory");
    FileSystem& fs = options.fs ? *options.fs : posix_file_system();
    std::unique_ptr<ChunkStore> store(new ChunkStore(data_dir + "/chunks", options, fs));
    CLEAVE_RETURN_IF_ERROR(fs.create_dirs(store->temp_dir()));
    return store;
}

std::string ChunkStore::dir_of(const ChunkId& id) const {
    return root_ + "/" + to_hex(id.bytes().substr(0, 1));
}

std::string ChunkStore::path_of(const ChunkId& id) const { return dir_of(id) + "/" + id.hex(); }

Result<ChunkId> ChunkStore::put(std::string_view data) {
    if (data.size() > options_.max_chunk_bytes) {
        return Status(Errc::too_large, fmt::format("chunk of {} bytes exceeds the {} byte limit",
                                                   data.size(), options_.max_chunk_bytes));
    }
    const ChunkId id = ChunkId::of(data);
    CLEAVE_RETURN_IF_ERROR(put_with_id(id, data));
    return id;
}

Status ChunkStore::put_expecting(const ChunkId& expected, std::string_view data) {
    if (!expected.valid()) return malformed();
    if (data.size() > options_.max_chunk_bytes) {
        return Status(Errc::too_large,
                      fmt::format("chunk {} of {} bytes exceeds the {} byte limit", expected.hex(),
                                  data.size(), options_.max_chunk_bytes));
    }
    const ChunkId actual = ChunkId::of(data);
    if (actual != expected) {
        return Status::corruption(fmt::format("chunk {} received with bytes that hash to {}",
                                              expected.hex(), actual.hex()));
    }
    return put_with_id(expected, data);
}

Status ChunkStore::put_with_id(const ChunkId& id, std::string_view data) {
    const std::string final_path = path_of(id);
    {
        std::lock_guard lock(stripe(id));
        auto st = fs_.stat(final_path);
        if (st.is_ok()) {
            // Present: keep it if it is intact (dedup), refreshing its mtime so
            // the grace period protects it again; replace it if damaged.
            if (st->size_bytes == data.size()) {
                auto existing = fs_.read_file(final_path, options_.max_chunk_bytes);
                if (existing.is_ok() && ChunkId::of(*existing) == id) {
                    return fs_.touch(final_path);
                }
            }
            logger()->warn("chunk {}: damaged copy on disk is being replaced by a put", id.hex());
        } else if (st.status().code() != Errc::not_found) {
            return st.status();
        }
    }

    // Write the temporary file outside the lock: it is the slow part.
    std::string temp_path;
    {
        std::lock_guard lock(temp_mu_);
        temp_path = fmt::format("{}/{}.{}.{}{}", temp_dir(), id.hex(), ::getpid(), temp_counter_++,
                                kTempSuffix);
    }
    auto cleanup = [&](Status s) {
        Status rm = fs_.remove(temp_path);
        if (!rm.is_ok() && rm.code() != Errc::not_found) {
            logger()->warn("chunk {}: leaving temporary file {} for GC: {}", id.hex(), temp_path,
                           rm.to_string());
        }
        return s;
    };
    Status s = fs_.write_new_file_synced(temp_path, data);
    if (!s.is_ok()) return cleanup(std::move(s));
    s = fs_.create_dirs(dir_of(id));
    if (!s.is_ok()) return cleanup(std::move(s));
    {
        std::lock_guard lock(stripe(id));
        // A concurrent put of the same bytes may have won the race; renaming
        // over it replaces identical bytes, which is harmless.
        s = fs_.rename(temp_path, final_path);
        if (!s.is_ok()) return cleanup(std::move(s));
        // Synced under the lock so no remove() can interleave between the
        // rename becoming visible and it becoming durable.
        s = fs_.sync_dir(dir_of(id));
    }
    if (!s.is_ok()) {
        // The chunk may or may not survive a crash; it was not acknowledged,
        // and an unreferenced chunk is collected later.
        return s;
    }
    return Status::ok();
}

Result<std::string> ChunkStore::read_verified(const ChunkId& id, const std::string& path) {
    // No chunk is larger than the limit, so a larger file is damaged.
    auto data = fs_.read_file(path, options_.max_chunk_bytes);
    if (!data.is_ok()) {
        if (data.status().code() == Errc::not_found) {
            return Status::not_found(fmt::format("chunk {} not found", id.hex()));
        }
        if (data.status().code() == Errc::too_large) {
            logger()->error("chunk {} failed verification: file {} is larger than any chunk",
                            id.hex(), path);
            return Status::corruption(
                fmt::format("chunk {} failed verification: oversized file", id.hex()));
        }
        return data.status();
    }
    const ChunkId actual = ChunkId::of(*data);
    if (actual != id) {
        logger()->error("chunk {} failed verification: {} bytes in {} hash to {}", id.hex(),
                        data->size(), path, actual.hex());
        return Status::corruption(fmt::format("chunk {} failed verification: its bytes hash to {}",
                                              id.hex(), actual.hex()));
    }
    return data;
}

Result<std::string> ChunkStore::get(const ChunkId& id) {
    if (!id.valid()) return malformed();
    store_reads().add();
    return read_verified(id, path_of(id));
}

Result<bool> ChunkStore::contains(const ChunkId& id) {
    if (!id.valid()) return malformed();
    auto st = fs_.stat(path_of(id));
    if (st.is_ok()) return true;
    if (st.status().code() == Errc::not_found) return false;
    return st.status();
}

Status ChunkStore::remove(const ChunkId& id) {
    if (!id.valid()) return malformed();
    std::lock_guard lock(stripe(id));
    Status s = fs_.remove(path_of(id));
    if (s.code() == Errc::not_found) return Status::ok();
    CLEAVE_RETURN_IF_ERROR(s);
    return fs_.sync_dir(dir_of(id));
}

Result<uint64_t> ChunkStore::size(const ChunkId& id) {
    if (!id.valid()) return malformed();
    auto st = fs_.stat(path_of(id));
    if (!st.is_ok()) {
        if (st.status().code() == Errc::not_found) {
            return Status::not_found(fmt::format("chunk {} not found", id.hex()));
        }
        return st.status();
    }
    return st->size_bytes;
}

Result<std::vector<ChunkInfo>> ChunkStore::list() {
    CLEAVE_ASSIGN_OR_RETURN(auto fanout, fs_.list_dir(root_));
    std::vector<ChunkInfo> out;
    for (const auto& d : fanout) {
        if (!d.is_dir || d.name.size() != 2) continue;  // "tmp" and strangers
        const std::string dir = root_ + "/" + d.name;
        auto entries = fs_.list_dir(dir);
        if (!entries.is_ok()) {
            // Removed by a concurrent GC pass or never fully created: skip.
            if (entries.status().code() == Errc::not_found) continue;
            return entries.status();
        }
        for (const auto& e : *entries) {
            const ChunkId id = ChunkId::from_hex(e.name);
            if (e.is_dir || !id.valid() || e.name.compare(0, 2, d.name) != 0) continue;
            auto st = fs_.stat(dir + "/" + e.name);
            if (!st.is_ok()) {
                if (st.status().code() == Errc::not_found) continue;  // removed meanwhile
                return st.status();
            }
            out.push_back({id, st->size_bytes, st->mtime_ms});
        }
    }
    return out;
}

Result<ChunkGcStats> ChunkStore::collect_garbage(
    const std::function<bool(const ChunkId&)>& is_referenced, int64_t grace_ms, int64_t now_ms) {
    CLEAVE_ASSERT(grace_ms >= 0, "negative grace period {}", grace_ms);
    const int64_t cutoff_ms = now_ms - grace_ms;  // files modified at or before this go
    ChunkGcStats stats;

    // Stale temporary files: writes that crashed or failed. Live writes are
    // younger than the grace period.
    CLEAVE_ASSIGN_OR_RETURN(auto temps, fs_.list_dir(temp_dir()));
    for (const auto& e : temps) {
        if (e.is_dir || !ends_with(e.name, kTempSuffix)) continue;
        const std::string path = temp_dir() + "/" + e.name;
        auto st = fs_.stat(path);
        if (!st.is_ok() || st->mtime_ms > cutoff_ms) continue;
        Status s = fs_.remove(path);
        if (s.is_ok()) {
            ++stats.temp_files_removed;
        } else if (s.code() != Errc::not_found) {
            return s;
        }
    }

    CLEAVE_ASSIGN_OR_RETURN(auto chunks, list());
    stats.chunks_seen = chunks.size();
    for (const auto& c : chunks) {
        if (is_referenced(c.id)) continue;
        if (c.mtime_ms > cutoff_ms) {
            ++stats.chunks_kept_young;
            continue;
        }
        std::lock_guard lock(stripe(c.id));
        // Re-check under the lock: a put() may have refreshed it since list().
        auto st = fs_.stat(path_of(c.id));
        if (!st.is_ok()) {
            if (st.status().code() == Errc::not_found) continue;
            return st.status();
        }
        if (st->mtime_ms > cutoff_ms) {
            ++stats.chunks_kept_young;
            continue;
        }
        Status s = fs_.remove(path_of(c.id));
        if (s.code() == Errc::not_found) continue;
        CLEAVE_RETURN_IF_ERROR(s);
        CLEAVE_RETURN_IF_ERROR(fs_.sync_dir(dir_of(c.id)));
        ++stats.chunks_removed;
        stats.bytes_removed += st->size_bytes;
    }
    if (stats.chunks_removed > 0 || stats.temp_files_removed > 0) {
        logger()->info(
            "chunk gc: removed {} chunks ({} bytes) and {} temporary files; kept {} young",
            stats.chunks_removed, stats.bytes_removed, stats.temp_files_removed,
            stats.chunks_kept_young);
    }
    return stats;
}

}  // namespace cleave::blob
