#include "cache/redis_chunk_cache.h"

#include <hiredis.h>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/metrics.h"

namespace cleave::cache {

namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto l = module_logger("cache");
    return l;
}

metrics::Counter& errors_counter() {
    static auto& c = metrics::counter("cleave_chunk_cache_errors_total",
                                      "Chunk cache calls that failed (the cache was bypassed)");
    return c;
}

std::string_view str(const redisReply* r) { return {r->str, r->len}; }

}  // namespace

struct RedisChunkCache::Conn {
    redisContext* ctx = nullptr;
    uint64_t generation = 0;  // connections older than the last failure are dropped
    ~Conn() {
        if (ctx) redisFree(ctx);
    }
};

void RedisChunkCache::ReplyDeleter::operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
}

Result<std::unique_ptr<RedisChunkCache>> RedisChunkCache::open(
    const RedisChunkCacheOptions& options) {
    CLEAVE_ASSIGN_OR_RETURN(storage::RedisUrl url, storage::parse_redis_url(options.url));
    if (options.max_connections == 0 || options.timeout_ms <= 0 ||
        options.reconnect_backoff_ms < 0) {
        return Status::invalid_argument(
            "chunk cache: max_connections and timeout_ms must be positive, "
            "reconnect_backoff_ms not negative");
    }
    if (options.configure_server && options.max_memory_bytes == 0) {
        // maxmemory 0 means "no limit" to Redis: never what a cache wants.
        return Status::invalid_argument("chunk cache: max_memory_bytes must be positive");
    }
    std::unique_ptr<RedisChunkCache> cache(new RedisChunkCache(options, std::move(url)));
    // Connect once now, so a refused CONFIG is reported at start-up, where
    // the operator looks, rather than as a log line per reconnect.
    auto conn = cache->connect();
    if (conn.is_ok()) {
        std::lock_guard lock(cache->mu_);
        (*conn)->generation = cache->generation_;
        cache->idle_.push_back(*conn);
        ++cache->open_;
        logger()->info(
            "chunk cache on {} (prefix '{}', {})", cache->where_, options.key_prefix,
            options.configure_server
                ? fmt::format("maxmemory {} bytes, allkeys-lru", options.max_memory_bytes)
                : std::string("server configuration left to the operator"));
    } else if (conn.status().code() == Errc::precondition_failed) {
        return conn.status();
    } else {
        std::lock_guard lock(cache->mu_);
        cache->mark_down_locked(conn.status());
    }
    return cache;
}

RedisChunkCache::RedisChunkCache(RedisChunkCacheOptions options, storage::RedisUrl url)
    : options_(std::move(options)),
      url_(std::move(url)),
      where_(fmt::format("redis {}:{}/{}", url_.host, url_.port, url_.db)) {}

RedisChunkCache::~RedisChunkCache() {
    std::lock_guard lock(mu_);
    CLEAVE_ASSERT(idle_.size() == open_, "chunk cache destroyed with {} connections in use",
                  open_ - idle_.size());
    for (Conn* c : idle_) delete c;
    idle_.clear();
}

std::string RedisChunkCache::key_of(const blob::ChunkId& id) const {
    return options_.key_prefix + id.hex();
}

bool RedisChunkCache::down() const {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::now() < down_until_;
}

// ------------------------------------------------------------- connections --

Result<RedisChunkCache::Conn*> RedisChunkCache::connect() {
    const struct timeval tv = {static_cast<time_t>(options_.timeout_ms / 1000),
                               static_cast<suseconds_t>((options_.timeout_ms % 1000) * 1000)};
    auto conn = std::make_unique<Conn>();
    conn->ctx = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
    if (!conn->ctx || conn->ctx->err) {
        return Status::unavailable(fmt::format("{}: cannot connect: {}", where_,
                                               conn->ctx ? conn->ctx->errstr : "out of memory"));
    }
    redisSetTimeout(conn->ctx, tv);
    redisEnableKeepAlive(conn->ctx);

    // A command during set-up; any failure fails the connection.
    auto setup = [&](const std::vector<std::string_view>& args) -> Status {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (auto a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        Reply r(static_cast<redisReply*>(
            redisCommandArgv(conn->ctx, static_cast<int>(args.size()), argv.data(), lens.data())));
        if (!r || conn->ctx->err) {
            return Status::unavailable(fmt::format("{}: connection lost during {}: {}", where_,
                                                   args[0], conn->ctx->errstr));
        }
        if (r->type == REDIS_REPLY_ERROR) {
            return Status::io_error(fmt::format("{}: {} {} failed: {}", where_, args[0],
                                                args.size() > 1 ? args[1] : "", str(r.get())));
        }
        return Status::ok();
    };
    if (!url_.password.empty()) {
        std::vector<std::string_view> auth = {"AUTH"};
        if (!url_.user.empty()) auth.push_back(url_.user);
        auth.push_back(url_.password);
        Status s = setup(auth);
        // A wrong password is the operator's to fix, like a refused CONFIG.
        if (s.code() == Errc::io_error) return Status::precondition_failed(s.message());
        CLEAVE_RETURN_IF_ERROR(s);
    }
    const std::string db = std::to_string(url_.db);
    CLEAVE_RETURN_IF_ERROR(setup({"SELECT", db}));
    if (options_.configure_server) {
        const std::string bytes = std::to_string(options_.max_memory_bytes);
        for (auto [name, value] :
             {std::pair<std::string_view, std::string_view>{"maxmemory", bytes},
              {"maxmemory-policy", "allkeys-lru"}}) {
            Status s = setup({"CONFIG", "SET", name, value});
            if (s.code() == Errc::io_error) {
                return Status::precondition_failed(fmt::format(
                    "chunk cache: {} refused 'CONFIG SET {} {}' ({}). The cache needs a size bound "
                    "and LRU eviction on its server: allow CONFIG, or bound the server yourself "
                    "(maxmemory, maxmemory-policy allkeys-lru) and pass --chunk-cache-skip-config",
                    where_, name, value, s.message()));
            }
            CLEAVE_RETURN_IF_ERROR(s);
        }
    }
    return conn.release();
}

Result<RedisChunkCache::Conn*> RedisChunkCache::acquire() {
    std::unique_lock lock(mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    for (;;) {
        if (std::chrono::steady_clock::now() < down_until_) {
            return Status::unavailable(
                fmt::format("{}: chunk cache down after a failure; bypassed", where_));
        }
        if (!idle_.empty()) {
            Conn* c = idle_.back();
            idle_.pop_back();
            return c;
        }
        if (open_ < options_.max_connections) {
            ++open_;
            const uint64_t generation = generation_;
            lock.unlock();
            auto conn = connect();
            lock.lock();
            if (!conn.is_ok()) {
                --open_;
                mark_down_locked(conn.status());
                freed_.notify_all();
                return conn.status();
            }
            (*conn)->generation = generation;
            if (was_down_) {
                was_down_ = false;
                logger()->info("chunk cache: {} reachable again; cache in use", where_);
            }
            return *conn;
        }
        if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
            return Status::unavailable(
                fmt::format("{}: no chunk cache connection free within {} ms; bypassed", where_,
                            options_.timeout_ms));
        }
    }
}

void RedisChunkCache::release(Conn* conn, bool broken, const Status& why) {
    std::vector<Conn*> dead;
    {
        std::lock_guard lock(mu_);
        if (broken) {
            dead.push_back(conn);
            --open_;
            // The idle connections went to the same server and are most
            // likely dead too: drop them rather than fail on each in turn.
            dead.insert(dead.end(), idle_.begin(), idle_.end());
            open_ -= idle_.size();
            idle_.clear();
            mark_down_locked(why);
        } else if (conn->generation != generation_) {
            dead.push_back(conn);
            --open_;
        } else {
            idle_.push_back(conn);
        }
    }
    freed_.notify_all();
    for (Conn* c : dead) delete c;
}

void RedisChunkCache::mark_down_locked(const Status& why) {
    ++generation_;
    down_until_ =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reconnect_backoff_ms);
    was_down_ = true;
    log_problem_locked(why);
}

void RedisChunkCache::log_problem_locked(const Status& why) {
    const auto now = std::chrono::steady_clock::now();
    if (last_log_ != std::chrono::steady_clock::time_point{} &&
        now - last_log_ < std::chrono::milliseconds(options_.log_interval_ms)) {
        ++suppressed_;
        return;
    }
    last_log_ = now;
    logger()->warn(
        "chunk cache problem, reads bypass the cache: {}{}", why.message(),
        suppressed_ == 0
            ? std::string()
            : fmt::format(" ({} more problems since the last line not logged)", suppressed_));
    suppressed_ = 0;
}

Result<RedisChunkCache::Reply> RedisChunkCache::run(const std::vector<std::string_view>& args) {
    auto conn = acquire();
    if (!conn.is_ok()) {
        errors_counter().add();
        return conn.status();
    }
    Conn* c = *conn;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(
        redisCommandArgv(c->ctx, static_cast<int>(args.size()), argv.data(), lens.data())));
    if (!r || c->ctx->err) {
        Status s =
            Status::unavailable(fmt::format("{}: {} failed: connection lost ({})", where_, args[0],
                                            c->ctx->err ? c->ctx->errstr : "no reply"));
        release(c, true, s);
        errors_counter().add();
        return s;
    }
    release(c, false, Status::ok());
    if (r->type == REDIS_REPLY_ERROR) {
        // The server answered (e.g. OOM when nothing can be evicted): the
        // connection is fine, this one call failed.
        Status s =
            Status::io_error(fmt::format("{}: {} failed: {}", where_, args[0], str(r.get())));
        errors_counter().add();
        std::lock_guard lock(mu_);
        log_problem_locked(s);
        return s;
    }
    return r;
}

// ------------------------------------------------------------------ calls --

Result<std::optional<std::string>> RedisChunkCache::get(const blob::ChunkId& id) {
    if (!id.valid()) return Status::invalid_argument("chunk cache: malformed chunk id");
    const std::string key = key_of(id);
    CLEAVE_ASSIGN_OR_RETURN(Reply r, run({"GET", key}));
    if (r->type == REDIS_REPLY_NIL) return std::optional<std::string>();
    if (r->type != REDIS_REPLY_STRING) {
        errors_counter().add();
        return Status::io_error(
            fmt::format("{}: unexpected reply type {} to GET", where_, r->type));
    }
    return std::optional<std::string>(std::string(str(r.get())));
}

Status RedisChunkCache::put(const blob::ChunkId& id, std::string_view data) {
    if (!id.valid()) return Status::invalid_argument("chunk cache: malformed chunk id");
    const std::string key = key_of(id);
    return run({"SET", key, data}).status();
}

Status RedisChunkCache::remove(const blob::ChunkId& id) {
    if (!id.valid()) return Status::invalid_argument("chunk cache: malformed chunk id");
    const std::string key = key_of(id);
    return run({"DEL", key}).status();
}

}  // namespace cleave::cache
