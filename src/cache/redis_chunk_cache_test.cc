// The Redis chunk cache and CachedChunkSource against a private
// redis-server and a real chunk store.

#include "cache/redis_chunk_cache.h"

#include <gtest/gtest.h>
#include <hiredis.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "blob/chunk_store.h"
#include "cache/cached_chunk_source.h"
#include "common/metrics.h"
#include "common/random.h"
#include "storage/redis/redis_server_test_util.h"

namespace cleave::cache {
namespace {

using storage::RedisTestServer;

uint64_t counter_value(const char* name) { return metrics::counter(name, "").value(); }
uint64_t store_reads() { return counter_value("cleave_chunk_store_reads_total"); }
uint64_t hits() { return counter_value("cleave_chunk_cache_hits_total"); }
uint64_t misses() { return counter_value("cleave_chunk_cache_misses_total"); }
uint64_t corrupt() { return counter_value("cleave_chunk_cache_corrupt_total"); }

// A raw connection to the test server, to look behind the cache's back.
class RawRedis {
  public:
    explicit RawRedis(int port) {
        const struct timeval tv = {5, 0};
        ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
        EXPECT_TRUE(ctx_ && !ctx_->err) << "cannot connect to the test redis";
    }
    ~RawRedis() {
        if (ctx_) redisFree(ctx_);
    }
    // The reply as a string ("" for nil, the integer in decimal), or the
    // error text prefixed with "ERR:".
    std::string cmd(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
        if (!r) return "ERR:no reply";
        std::string out;
        switch (r->type) {
            case REDIS_REPLY_STRING:
            case REDIS_REPLY_STATUS:
                out.assign(r->str, r->len);
                break;
            case REDIS_REPLY_INTEGER:
                out = std::to_string(r->integer);
                break;
            case REDIS_REPLY_ERROR:
                out = "ERR:" + std::string(r->str, r->len);
                break;
            case REDIS_REPLY_ARRAY:
                // CONFIG GET name → [name, value]: the value.
                if (r->elements == 2) out.assign(r->element[1]->str, r->element[1]->len);
                break;
            default:
                break;
        }
        freeReplyObject(r);
        return out;
    }

  private:
    redisContext* ctx_ = nullptr;
};

class RedisChunkCacheTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!RedisTestServer::available()) GTEST_SKIP() << RedisTestServer::kBinary << " missing";
        // The cache needs no persistence: fsync-per-write would only slow the test.
        redis_ = std::make_unique<RedisTestServer>(std::vector<std::string>{"--appendonly", "no"});
        ASSERT_TRUE(redis_->start().is_ok());
        dir_ = redis_->dir() + "/store";
        auto store = blob::ChunkStore::open(dir_);
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(*store);
        // The data's content does not matter to these tests, only that the
        // chunks differ; a fixed seed keeps every run identical.
        Random rng(6);
        for (int i = 0; i < 4; ++i) {
            std::string data(100'000 + 1000 * i, '\0');
            for (char& c : data) c = static_cast<char>(rng.next_u64());
            auto id = store_->put(data);
            ASSERT_TRUE(id.is_ok());
            chunks_.emplace_back(*id, std::move(data));
        }
    }

    RedisChunkCacheOptions options() const {
        RedisChunkCacheOptions o;
        o.url = redis_->url();
        o.key_prefix = "test:chunk:";
        o.max_memory_bytes = 64ull << 20;
        o.reconnect_backoff_ms = 20;
        o.timeout_ms = 2000;
        return o;
    }

    std::unique_ptr<RedisChunkCache> open_cache(const RedisChunkCacheOptions& o) {
        auto c = RedisChunkCache::open(o);
        EXPECT_TRUE(c.is_ok()) << c.status().to_string();
        return c.is_ok() ? std::move(*c) : nullptr;
    }

    std::unique_ptr<RedisTestServer> redis_;
    std::string dir_;
    std::unique_ptr<blob::ChunkStore> store_;
    std::vector<std::pair<blob::ChunkId, std::string>> chunks_;
};

TEST_F(RedisChunkCacheTest, OpenSetsMaxmemoryAndLruPolicy) {
    auto cache = open_cache(options());
    ASSERT_TRUE(cache);
    RawRedis raw(redis_->port());
    EXPECT_EQ(raw.cmd({"CONFIG", "GET", "maxmemory"}), std::to_string(64ull << 20));
    EXPECT_EQ(raw.cmd({"CONFIG", "GET", "maxmemory-policy"}), "allkeys-lru");
    EXPECT_FALSE(cache->down());
}

TEST_F(RedisChunkCacheTest, RepeatedReadsHitTheCacheAndNotTheStore) {
    auto cache = open_cache(options());
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    const auto& [id, data] = chunks_[0];

    const uint64_t reads0 = store_reads(), hits0 = hits(), misses0 = misses();
    auto first = source.get(id);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_EQ(*first, data);
    EXPECT_EQ(store_reads(), reads0 + 1);
    EXPECT_EQ(misses(), misses0 + 1);
    // The entry is in Redis under the configured prefix.
    RawRedis raw(redis_->port());
    EXPECT_EQ(cache->key_of(id), "test:chunk:" + id.hex());
    EXPECT_EQ(raw.cmd({"EXISTS", cache->key_of(id)}), "1");

    for (int i = 0; i < 5; ++i) {
        auto again = source.get(id);
        ASSERT_TRUE(again.is_ok()) << again.status().to_string();
        EXPECT_EQ(*again, data);
    }
    EXPECT_EQ(store_reads(), reads0 + 1) << "repeated reads touched the chunk store";
    EXPECT_EQ(hits(), hits0 + 5);
    EXPECT_EQ(misses(), misses0 + 1);
}

TEST_F(RedisChunkCacheTest, CorruptedEntryIsDetectedDroppedAndBypassed) {
    auto cache = open_cache(options());
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    const auto& [id, data] = chunks_[1];
    ASSERT_TRUE(source.get(id).is_ok());  // now cached

    RawRedis raw(redis_->port());
    std::string damaged = data;
    damaged[damaged.size() / 2] ^= 0x01;
    ASSERT_EQ(raw.cmd({"SET", cache->key_of(id), damaged}), "OK");

    const uint64_t reads0 = store_reads(), corrupt0 = corrupt(), hits0 = hits();
    auto got = source.get(id);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(*got, data);
    EXPECT_EQ(corrupt(), corrupt0 + 1);
    EXPECT_EQ(store_reads(), reads0 + 1) << "a damaged entry must send the read to the store";
    EXPECT_EQ(hits(), hits0);
    // The damaged entry was replaced by the store's good copy.
    EXPECT_EQ(raw.cmd({"GET", cache->key_of(id)}), data);

    // A truncated entry (another kind of damage) is caught as well.
    ASSERT_EQ(raw.cmd({"SET", cache->key_of(id), data.substr(0, 10)}), "OK");
    got = source.get(id);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(*got, data);
    EXPECT_EQ(corrupt(), corrupt0 + 2);

    // And the next read is a clean hit again.
    const uint64_t reads1 = store_reads();
    got = source.get(id);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(*got, data);
    EXPECT_EQ(store_reads(), reads1);
    EXPECT_EQ(hits(), hits0 + 1);
}

TEST_F(RedisChunkCacheTest, RedisDownReadsGoToTheStoreAndTheCacheComesBack) {
    auto cache = open_cache(options());
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    for (const auto& [id, data] : chunks_) ASSERT_TRUE(source.get(id).is_ok());

    redis_->kill();
    const uint64_t reads0 = store_reads();
    for (int round = 0; round < 3; ++round) {
        for (const auto& [id, data] : chunks_) {
            auto got = source.get(id);
            ASSERT_TRUE(got.is_ok())
                << "a read failed because the cache is down: " << got.status().to_string();
            EXPECT_EQ(*got, data);
        }
    }
    EXPECT_EQ(store_reads(), reads0 + 3 * chunks_.size());
    EXPECT_TRUE(cache->down());

    // A restarted server is empty (no persistence) and has forgotten the
    // CONFIG SET: the cache reconnects, reconfigures it and fills it again.
    ASSERT_TRUE(redis_->restart().is_ok());
    const auto& [id, data] = chunks_[2];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool hit = false;
    while (!hit && std::chrono::steady_clock::now() < deadline) {
        const uint64_t h = hits();
        auto got = source.get(id);
        ASSERT_TRUE(got.is_ok());
        EXPECT_EQ(*got, data);
        hit = hits() > h;
        if (!hit) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
    }
    ASSERT_TRUE(hit) << "the cache did not serve hits within 10 s of the server's restart";
    RawRedis raw(redis_->port());
    EXPECT_EQ(raw.cmd({"CONFIG", "GET", "maxmemory"}), std::to_string(64ull << 20));
    EXPECT_EQ(raw.cmd({"CONFIG", "GET", "maxmemory-policy"}), "allkeys-lru");
}

TEST_F(RedisChunkCacheTest, UnreachableAtOpenStartsDownAndReadsStillWork) {
    auto o = options();
    redis_->kill();
    auto cache = open_cache(o);
    ASSERT_TRUE(cache);
    EXPECT_TRUE(cache->down());
    CachedChunkSource source(*cache, *store_);
    auto got = source.get(chunks_[0].first);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(*got, chunks_[0].second);
}

TEST_F(RedisChunkCacheTest, BadUrlIsRefused) {
    auto o = options();
    o.url = "http://127.0.0.1:1/0";
    auto c = RedisChunkCache::open(o);
    ASSERT_FALSE(c.is_ok());
    EXPECT_EQ(c.status().code(), Errc::invalid_argument);
}

TEST_F(RedisChunkCacheTest, RefusedConfigFailsOpenUnlessSkipped) {
    RedisTestServer locked({"--appendonly", "no", "--rename-command", "CONFIG", ""});
    ASSERT_TRUE(locked.start().is_ok());
    auto o = options();
    o.url = locked.url();
    auto refused = RedisChunkCache::open(o);
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), Errc::precondition_failed);
    EXPECT_NE(refused.status().message().find("CONFIG SET maxmemory"), std::string::npos)
        << refused.status().message();
    EXPECT_NE(refused.status().message().find("--chunk-cache-skip-config"), std::string::npos);

    o.configure_server = false;
    auto cache = open_cache(o);
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    const uint64_t hits0 = hits();
    ASSERT_TRUE(source.get(chunks_[0].first).is_ok());
    ASSERT_TRUE(source.get(chunks_[0].first).is_ok());
    EXPECT_EQ(hits(), hits0 + 1);
}

TEST_F(RedisChunkCacheTest, ConcurrentReadersGetTheRightBytes) {
    auto o = options();
    o.max_connections = 2;  // fewer connections than threads: they share
    auto cache = open_cache(o);
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                const auto& [id, data] = chunks_[(t + i) % chunks_.size()];
                auto got = source.get(id);
                if (!got.is_ok() || *got != data) ++bad;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_FALSE(cache->down());
}

TEST_F(RedisChunkCacheTest, MissingChunkIsTheStoresAnswer) {
    auto cache = open_cache(options());
    ASSERT_TRUE(cache);
    CachedChunkSource source(*cache, *store_);
    auto got = source.get(blob::ChunkId::of("never stored"));
    ASSERT_FALSE(got.is_ok());
    EXPECT_EQ(got.status().code(), Errc::not_found);
}

}  // namespace
}  // namespace cleave::cache
