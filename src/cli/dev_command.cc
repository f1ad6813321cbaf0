#include "cli/dev_command.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "blob/chunk_store.h"
#include "cache/cached_chunk_source.h"
#include "cache/redis_chunk_cache.h"
#include "cli/dev_admin.h"
#include "cli/net_address.h"
#include "cli/process_setup.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/random.h"
#include "s3/credentials.h"
#include "s3/server.h"
#include "service/local_object_service.h"
#include "service/local_shards.h"
#include "shard/local_replica.h"
#include "storage/open_engine.h"

namespace cleave::cli {

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("cli");
    return l;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "cleave dev: %s\n", what.c_str());
    return 1;
}

}  // namespace

void add_dev_options(CLI::App& cmd, DevOptions& o, bool one_node) {
    cmd.add_option("--data", o.data_dir, "Data directory (created if missing)");
    cmd.add_option("--listen", o.listen, "S3 endpoint address HOST:PORT");
    cmd.add_option("--engine", o.engine, "Storage engine: rocksdb (default) or redis")
        ->check(CLI::IsMember({"rocksdb", "redis", "memory"}));
    cmd.add_option("--redis-url", o.redis_url, "redis://HOST:PORT/DB for --engine redis");
    cmd.add_flag("--allow-weak-durability,--redis-allow-weak-durability", o.allow_weak_durability,
                 "Accept a Redis server without appendfsync always (may lose acknowledged writes)");
    cmd.add_option("--chunk-cache", o.chunk_cache_url,
                   "redis://HOST:PORT/DB of a Redis server to cache chunks in (a server of its "
                   "own: the cache sets its maxmemory and allkeys-lru eviction)");
    cmd.add_option("--chunk-cache-bytes", o.chunk_cache_bytes,
                   "Size bound of the chunk cache (CONFIG SET maxmemory on its server)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--chunk-cache-prefix", o.chunk_cache_prefix, "Key prefix of cached chunks");
    cmd.add_flag("--chunk-cache-skip-config", o.chunk_cache_skip_config,
                 "Send no CONFIG SET to the chunk cache server (its operator bounds it)");
    cmd.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off");
    cmd.add_option("--region", o.region, "Region the SigV4 scope must name");
    cmd.add_option("--virtual-host-suffix", o.virtual_host_suffixes,
                   "Host suffixes for virtual-host-style addressing (BUCKET.SUFFIX)");
    cmd.add_option("--gc-grace-seconds", o.gc_grace_s,
                   "Unreferenced chunks younger than this stay");
    cmd.add_option("--gc-interval-seconds", o.gc_interval_s, "Chunk GC period; 0 = never");
    if (!one_node) return;
    cmd.add_option("--split-bytes", o.split_bytes,
                   "Split a shard in half once its objects hold this many bytes; 0 = only by "
                   "hand (cleave admin split)");
    cmd.add_option("--split-writes-per-s", o.split_writes_per_s,
                   "Split a shard in half once it applies more writes per second than this; "
                   "0 = never by load")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--split-check-ms", o.split_check_ms,
                   "How often shards are measured against --split-bytes and "
                   "--split-writes-per-s")
        ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
}

int run_dev(const DevOptions& o) {
    set_log_level(o.log_level);
    auto addr = parse_host_port(o.listen);
    if (!addr.is_ok()) return fail("--listen: " + addr.status().message());
    if (o.engine == "redis" && o.redis_url.empty()) return fail("--engine redis needs --redis-url");

    std::error_code ec;
    std::filesystem::create_directories(o.data_dir, ec);
    if (ec) return fail("cannot create " + o.data_dir + ": " + ec.message());
    auto lock_fd = lock_data_dir(o.data_dir);
    if (!lock_fd.is_ok()) return fail(lock_fd.status().message());
    const sigset_t signals = block_stop_signals();

    auto creds = load_credentials(o.data_dir);
    if (!creds.is_ok()) return fail("credentials: " + creds.status().to_string());

    auto chunks = blob::ChunkStore::open(o.data_dir + "/chunks");
    if (!chunks.is_ok()) return fail("chunk store: " + chunks.status().to_string());

    std::unique_ptr<cache::RedisChunkCache> chunk_cache;
    std::unique_ptr<cache::CachedChunkSource> cached_source;
    if (!o.chunk_cache_url.empty()) {
        auto cache_url = storage::parse_redis_url(o.chunk_cache_url);
        if (!cache_url.is_ok()) return fail("--chunk-cache: " + cache_url.status().message());
        if (o.engine == "redis") {
            auto engine_url = storage::parse_redis_url(o.redis_url);
            if (engine_url.is_ok() && engine_url->host == cache_url->host &&
                engine_url->port == cache_url->port) {
                // maxmemory and allkeys-lru are server-wide: they would evict the engine's state.
                return fail(
                    "--chunk-cache must name another Redis server than --redis-url: the "
                    "cache sets maxmemory and allkeys-lru eviction on its server");
            }
        }
        cache::RedisChunkCacheOptions co;
        co.url = o.chunk_cache_url;
        co.max_memory_bytes = o.chunk_cache_bytes;
        co.key_prefix = o.chunk_cache_prefix;
        co.configure_server = !o.chunk_cache_skip_config;
        auto opened = cache::RedisChunkCache::open(co);
        if (!opened.is_ok()) return fail("chunk cache: " + opened.status().to_string());
        chunk_cache = std::move(*opened);
        cached_source = std::make_unique<cache::CachedChunkSource>(*chunk_cache, **chunks);
    }

    if ((o.split_bytes > 0 || o.split_writes_per_s > 0) && o.engine == "redis")
        return fail(
            "--split-bytes, --split-writes-per-s: splitting needs the rocksdb engine (a Redis "
            "store keeps one shard)");
    service::LocalShardsOptions lo;
    lo.data_dir = o.data_dir;
    lo.engine.kind = o.engine;
    lo.engine.redis_url = o.redis_url;
    lo.engine.allow_weak_durability = o.allow_weak_durability;
    lo.split_bytes = o.split_bytes;
    lo.split_writes_per_s = o.split_writes_per_s;
    lo.split_check_ms = o.split_check_ms;
    auto shards = service::LocalShards::open(lo);
    if (!shards.is_ok()) return fail("shards: " + shards.status().to_string());

    service::LocalObjectServiceOptions so;
    so.gc_grace_ms = o.gc_grace_s * 1000;
    so.gc_interval_ms = o.gc_interval_s * 1000;
    service::LocalObjectService svc(**shards, **chunks, SystemClock::instance(), so,
                                    cached_source.get());

    s3::ServerConfig sc;
    sc.listen_host = addr->host;
    sc.listen_port = addr->port;
    sc.region = o.region;
    sc.virtual_host_suffixes = o.virtual_host_suffixes;
    // A write's service call waits for its group commit: with the default
    // pool (4 threads on 2 cores) at most 4 writes shared one sync.
    sc.threads = 64;
    sc.admin = [&shards](const std::string& method, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& query) {
        return dev_admin(**shards, method, path, query);
    };
    s3::Server server(sc, svc, creds->provider);
    if (Status s = server.start(); !s.is_ok()) return fail("S3 endpoint: " + s.to_string());

    std::string endpoint = fmt::format("http://{}:{}", addr->host, server.port());
    std::printf("ready: S3 endpoint %s\n", endpoint.c_str());
    std::printf("  access key: %s\n  secret key: %s\n", creds->access_key.c_str(),
                creds->secret_key.c_str());
    std::printf(
        "  try: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s s3 mb "
        "s3://demo\n",
        creds->access_key.c_str(), creds->secret_key.c_str(), endpoint.c_str());
    std::fflush(stdout);
    log()->info("cleave dev ready on {} (engine {}, data {}, {} shards{})", endpoint, o.engine,
                o.data_dir, (*shards)->table().size(),
                chunk_cache ? ", chunk cache " + chunk_cache->where() : std::string());

    int sig = 0;
    sigwait(&signals, &sig);
    log()->info("signal {} received; shutting down", sig);
    server.stop();
    (*shards)->stop();
    Status synced = (*shards)->sync();
    if (!synced.is_ok()) log()->warn("final sync failed: {}", synced.to_string());
    ::close(*lock_fd);
    return 0;
}

}  // namespace cleave::cli
