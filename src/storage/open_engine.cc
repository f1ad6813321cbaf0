#include "storage/open_engine.h"

#include <sys/stat.h>

#include "storage/memory/memory_engine.h"
#include "storage/redis/redis_engine.h"
#include "storage/rocksdb/rocksdb_engine.h"

namespace cleave::storage {

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

Result<std::unique_ptr<Engine>> open_memory(const EngineOptions& options) {
    if (options.memory_disk) return std::unique_ptr<Engine>(new MemoryEngine(options.memory_disk));
    if (!options.path.empty() && exists(options.path)) {
        auto engine = MemoryEngine::open_checkpoint(options.path);
        if (engine.is_ok()) return std::unique_ptr<Engine>(std::move(engine).value());
        // A directory without a checkpoint is a fresh start; anything else
        // (a damaged checkpoint) must not silently become an empty engine.
        if (engine.status().code() != Errc::not_found) return engine.status();
    }
    return std::unique_ptr<Engine>(new MemoryEngine());
}

}  // namespace

Result<std::unique_ptr<Engine>> open_engine(const EngineOptions& options) {
    if (options.kind == "rocksdb") {
        CLEAVE_ASSIGN_OR_RETURN(
            auto engine, RocksDbEngine::open({.path = options.path,
                                              .block_cache_bytes = options.block_cache_bytes}));
        return std::unique_ptr<Engine>(std::move(engine));
    }
    if (options.kind == "memory") return open_memory(options);
    if (options.kind == "redis") {
        if (options.redis_url.empty()) {
            return Status::invalid_argument(
                "the redis engine needs a url (--redis-url redis://HOST:PORT/DB)");
        }
        CLEAVE_ASSIGN_OR_RETURN(
            auto engine, RedisEngine::open({.url = options.redis_url,
                                            .key_prefix = options.redis_key_prefix,
                                            .allow_weak_durability = options.allow_weak_durability,
                                            .timeout_ms = options.redis_timeout_ms}));
        return std::unique_ptr<Engine>(std::move(engine));
    }
    return Status::invalid_argument("unknown engine kind '" + options.kind +
                                    "' (expected rocksdb, memory or redis)");
}

}  // namespace cleave::storage
