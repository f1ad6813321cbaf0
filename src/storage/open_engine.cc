#include "storage/open_engine.h"

#include <sys/stat.h>

#include "storage/memory/memory_engine.h"
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
    return Status::invalid_argument("unknown engine kind '" + options.kind +
                                    "' (expected rocksdb, memory or redis)");
}

}  // namespace cleave::storage
