#pragma once
// A chunk cache in a Redis server (issue 6; DESIGN.md §8), for gateways: one
// Redis string per chunk, key = key_prefix + the chunk id in hex, value = the
// chunk's bytes. Several gateways may share one cache server: entries are
// content-addressed, so they never disagree.
//
// Size bound and eviction live on the Redis side. On every connection (the
// first and every reconnect, since a restarted server forgets CONFIG SET) the
// cache sends
//
//   CONFIG SET maxmemory <max_memory_bytes>
//   CONFIG SET maxmemory-policy allkeys-lru
//
// These settings are server-wide: they apply to every key of every database
// on that server, so the cache server must hold nothing else (never point it
// at the Redis server of a node's engine: allkeys-lru would evict engine
// state).
//
// The rule when CONFIG is refused (a managed Redis with CONFIG disabled or
// renamed, an ACL without +config): open() fails with precondition_failed,
// naming the server's answer, because an unbounded cache would eventually
// fill the server. An operator who has bounded the server by other means sets
// configure_server = false (`--chunk-cache-skip-config`), and the cache then
// sends no CONFIG at all. A refusal on a later reconnect counts as the server
// being unavailable (logged; the cache stays bypassed until it is accepted).
//
// Failures never reach readers as failures: a lost connection, a timeout or
// an error reply makes the call return an error (unavailable or io_error)
// quickly, which CachedChunkSource treats as a miss. After a connection
// failure the cache is "down" for reconnect_backoff_ms: calls fail at once
// without touching the network, so a dead server costs readers nothing; the
// first call after the backoff reconnects. Problems are logged at most once
// per log_interval_ms (with a count of the ones not logged), and a recovery
// is logged once.
//
// An unreachable server at open() is not an error: the cache starts down and
// connects later (a gateway should not refuse to start for want of a cache).
// A bad url is invalid_argument.
//
// Threading: thread-safe. Calls share a small pool of connections (at most
// max_connections); a call waits at most timeout_ms for a free one.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/chunk_cache.h"
#include "storage/redis/redis_engine.h"

struct redisContext;
struct redisReply;

namespace cleave::cache {

struct RedisChunkCacheOptions {
    std::string url = "redis://127.0.0.1:6379/0";  // redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    std::string key_prefix = "cleave:chunk:";
    uint64_t max_memory_bytes = 256ull << 20;  // CONFIG SET maxmemory
    bool configure_server = true;              // false: send no CONFIG (see above)
    int64_t timeout_ms = 2000;                 // connect and per-command timeout
    int64_t reconnect_backoff_ms = 1000;       // how long the cache stays down after a failure
    int64_t log_interval_ms = 10000;           // at most one problem line per interval
    size_t max_connections = 4;
};

class RedisChunkCache final : public ChunkCache {
  public:
    // Errors: invalid_argument (bad url or options), precondition_failed
    // (CONFIG refused while configure_server is set; the message says what
    // to do). An unreachable server is not an error (see above).
    static Result<std::unique_ptr<RedisChunkCache>> open(const RedisChunkCacheOptions& options);
    ~RedisChunkCache() override;
    RedisChunkCache(const RedisChunkCache&) = delete;
    RedisChunkCache& operator=(const RedisChunkCache&) = delete;

    Result<std::optional<std::string>> get(const blob::ChunkId& id) override;
    Status put(const blob::ChunkId& id, std::string_view data) override;
    Status remove(const blob::ChunkId& id) override;

    // The Redis key of a chunk (for tests and operators).
    std::string key_of(const blob::ChunkId& id) const;
    // "redis HOST:PORT/DB", as messages name the server.
    const std::string& where() const { return where_; }
    // Whether the cache is currently in its down (bypassed) state.
    bool down() const;

  private:
    struct Conn;
    RedisChunkCache(RedisChunkCacheOptions options, storage::RedisUrl url);

    // A connection from the pool, or a new one (connected and configured).
    // unavailable while down or when no connection frees up in time.
    Result<Conn*> acquire();
    // Back to the pool; `broken` connections are freed and put the cache down.
    void release(Conn* conn, bool broken, const Status& why);
    Result<Conn*> connect();
    // One command on a pooled connection; error replies become io_error,
    // connection failures unavailable (and put the cache down).
    struct ReplyDeleter {
        void operator()(redisReply* r) const;
    };
    using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
    Result<Reply> run(const std::vector<std::string_view>& args);
    Status configure(Conn& conn);
    void mark_down_locked(const Status& why);
    void log_problem_locked(const Status& why);

    const RedisChunkCacheOptions options_;
    const storage::RedisUrl url_;
    const std::string where_;

    mutable std::mutex mu_;
    std::condition_variable freed_;
    std::vector<Conn*> idle_;                             // guarded by mu_
    size_t open_ = 0;                                     // guarded by mu_: idle + leased
    uint64_t generation_ = 0;                             // guarded by mu_: bumped on every failure
    std::chrono::steady_clock::time_point down_until_{};  // guarded by mu_
    bool was_down_ = false;                               // guarded by mu_: log the recovery once
    std::chrono::steady_clock::time_point last_log_{};    // guarded by mu_
    uint64_t suppressed_ = 0;                             // guarded by mu_
};

}  // namespace cleave::cache
