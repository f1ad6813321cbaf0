#pragma once
// Opens an Engine by kind. The CLI maps `--engine rocksdb|memory|redis` and
// `--redis-url` onto EngineOptions; nothing above storage/ names a concrete
// engine class.

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "storage/engine.h"

namespace cleave::storage {

class MemoryDisk;

struct EngineOptions {
    // "rocksdb" (the embedded default), "memory" (tests) or "redis".
    std::string kind = "rocksdb";

    // rocksdb: the database directory (created if missing).
    // memory: optional; when it holds a checkpoint written by a memory
    //   engine's checkpoint(), the new engine starts from that copy.
    // redis: unused.
    std::string path{};

    // rocksdb: bytes of the shared LRU block cache.
    uint64_t block_cache_bytes = 64ull << 20;

    // memory: the state that outlives one engine instance, so a test can close
    // an engine and open another on the same "disk" (and drop unsynced writes
    // in between to simulate power loss). None = a fresh, empty disk.
    std::shared_ptr<MemoryDisk> memory_disk{};

    // redis: redis://HOST[:PORT][/DB]; every key the engine writes starts with
    // redis_key_prefix, so several engines can share one server.
    std::string redis_url{};
    std::string redis_key_prefix = "cleave:";
    // Without this the engine refuses a server that does not run with
    // `appendonly yes` and `appendfsync always` (acknowledged writes could be
    // lost on a crash of the Redis host).
    bool allow_weak_durability = false;
    int64_t redis_timeout_ms = 5000;
};

// Opens (creating if missing) the engine `options.kind` names.
// Errors: invalid_argument for an unknown kind or a malformed option,
// io_error / unavailable / precondition_failed from the engine itself.
Result<std::unique_ptr<Engine>> open_engine(const EngineOptions& options);

}  // namespace cleave::storage
