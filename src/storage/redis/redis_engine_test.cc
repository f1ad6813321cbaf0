// Redis-specific behaviour of the Redis engine; the Engine contract itself is
// checked by engine_conformance_test.cc, which runs on Redis too.

#include "storage/redis/redis_engine.h"

#include <hiredis.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/open_engine.h"
#include "storage/redis/redis_server_test_util.h"

namespace cleave::storage {
namespace {

TEST(RedisUrl, Parses) {
    auto u = parse_redis_url("redis://10.1.2.3:7000/5");
    ASSERT_TRUE(u.is_ok()) << u.status().to_string();
    EXPECT_EQ(u->host, "10.1.2.3");
    EXPECT_EQ(u->port, 7000);
    EXPECT_EQ(u->db, 5);
    EXPECT_TRUE(u->password.empty());

    u = parse_redis_url("redis://cache.internal");
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u->host, "cache.internal");
    EXPECT_EQ(u->port, 6379);
    EXPECT_EQ(u->db, 0);

    u = parse_redis_url("redis://:s3cret@h:1/2");
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u->password, "s3cret");
    EXPECT_EQ(u->user, "");
    u = parse_redis_url("redis://alice:pw@h/");
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u->user, "alice");
    EXPECT_EQ(u->password, "pw");

    u = parse_redis_url("redis://[::1]:6380/3");
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 6380);
    EXPECT_EQ(u->db, 3);

    for (const char* bad : {"http://h:1/0", "redis://", "redis://h:0", "redis://h:70000",
                            "redis://h:port", "redis://h:1/x", "redis://h:1/-1", "redis://[::1"}) {
        auto r = parse_redis_url(bad);
        EXPECT_EQ(r.status().code(), Errc::invalid_argument) << bad;
    }
}

class RedisEngineTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!RedisTestServer::available()) GTEST_SKIP() << "redis-server is not installed";
    }
    static std::unique_ptr<Engine> open(const RedisTestServer& server,
                                        const std::string& prefix = "t:") {
        auto r =
            open_engine({.kind = "redis", .redis_url = server.url(), .redis_key_prefix = prefix});
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return r.is_ok() ? std::move(r).value() : nullptr;
    }
    // A raw command on the server, outside any engine.
    static std::string raw(const RedisTestServer& server, const std::vector<std::string>& args) {
        redisContext* c = redisConnect("127.0.0.1", server.port());
        EXPECT_TRUE(c && !c->err);
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
        std::string out;
        if (r && r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
        if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
            out.assign(r->str, r->len);
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        return out;
    }
};

TEST_F(RedisEngineTest, RefusesWeakDurabilityUnlessAllowed) {
    for (auto extra : {std::vector<std::string>{"--appendfsync", "everysec"},
                       std::vector<std::string>{"--appendonly", "no"}}) {
        RedisTestServer server(extra);
        ASSERT_TRUE(server.start().is_ok());
        auto r = open_engine({.kind = "redis", .redis_url = server.url()});
        ASSERT_FALSE(r.is_ok()) << "opened on " << extra[0] << " " << extra[1];
        EXPECT_EQ(r.status().code(), Errc::precondition_failed);
        const std::string& msg = r.status().message();
        EXPECT_NE(msg.find("appendfsync always"), std::string::npos) << msg;
        EXPECT_NE(msg.find("allow_weak_durability"), std::string::npos) << msg;
        EXPECT_NE(msg.find(extra[1]), std::string::npos) << "does not say what it saw: " << msg;

        auto weak = open_engine(
            {.kind = "redis", .redis_url = server.url(), .allow_weak_durability = true});
        ASSERT_TRUE(weak.is_ok()) << weak.status().to_string();
        ASSERT_TRUE((*weak)->put("k", "v").is_ok());
    }
}

TEST_F(RedisEngineTest, UnreachableServerIsUnavailable) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    const std::string url = server.url();
    server.kill();
    auto r = open_engine({.kind = "redis", .redis_url = url});
    EXPECT_EQ(r.status().code(), Errc::unavailable) << r.status().to_string();
    EXPECT_NE(r.status().message().find(std::to_string(server.port())), std::string::npos);
}

TEST_F(RedisEngineTest, PrefixesIsolateEngines) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    auto a = open(server, "a:");
    auto b = open(server, "b:");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->put("k", "from a").is_ok());
    ASSERT_TRUE(b->put("k", "from b").is_ok());
    WriteBatch wipe;
    wipe.delete_range("", "\xff");
    ASSERT_TRUE(b->write(wipe).is_ok());
    EXPECT_EQ(*a->get("k"), "from a");
    EXPECT_EQ(*b->get("k"), std::nullopt);
}

TEST_F(RedisEngineTest, OpenRemovesStaleSnapshotCopies) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    {
        auto e = open(server);
        ASSERT_TRUE(e->put("k", "v").is_ok());
        auto snap = e->snapshot();
        ASSERT_EQ(raw(server, {"EXISTS", "t:snap:1:h"}), "1");
        // As if the process died holding a snapshot: a copy nobody releases.
        ASSERT_EQ(raw(server, {"COPY", "t:snap:1:h", "t:snap:77:h"}), "1");
    }
    EXPECT_EQ(raw(server, {"EXISTS", "t:snap:1:h"}), "0");  // released by its Snapshot
    EXPECT_EQ(raw(server, {"EXISTS", "t:snap:77:h"}), "1");
    auto e = open(server);
    EXPECT_EQ(raw(server, {"EXISTS", "t:snap:77:h"}), "0");
    EXPECT_EQ(*e->get("k"), "v");
}

TEST_F(RedisEngineTest, RestoreRefusesAPrefixWithData) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    auto e = open(server);
    ASSERT_TRUE(e->put("k", "v").is_ok());
    const std::string dir = server.dir() + "/cp";
    ASSERT_TRUE(e->checkpoint(dir).is_ok());
    Status s = RedisEngine::restore_checkpoint(dir, {.url = server.url(), .key_prefix = "t:"});
    EXPECT_EQ(s.code(), Errc::already_exists);
    ASSERT_TRUE(
        RedisEngine::restore_checkpoint(dir, {.url = server.url(), .key_prefix = "u:"}).is_ok());
    auto u = open(server, "u:");
    EXPECT_EQ(*u->get("k"), "v");
}

TEST_F(RedisEngineTest, ServerCrashAndAofRestartKeepAcknowledgedWrites) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    auto e = open(server);
    for (int i = 0; i < 100; ++i) {
        WriteBatch b;
        b.put(fmt::format("key{:03d}", i), std::string(i, 'v'));
        if (i % 10 == 9)
            b.delete_range(fmt::format("key{:03d}", i - 3), fmt::format("key{:03d}", i - 1));
        ASSERT_TRUE(e->write(b).is_ok());
    }
    std::vector<std::pair<std::string, std::string>> before;
    {
        auto it = e->iterate({});
        for (it->seek_to_first(); it->valid(); it->next())
            before.emplace_back(it->key(), it->value());
    }
    ASSERT_EQ(before.size(), 80u);

    server.kill();  // SIGKILL: only what the AOF fsynced survives
    // The old engine notices, says so clearly, and takes nothing.
    Status s = e->put("during-outage", "x");
    EXPECT_EQ(s.code(), Errc::unavailable) << s.to_string();
    EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(server.port())), std::string::npos)
        << s.message();
    EXPECT_EQ(e->get("key000").status().code(), Errc::unavailable);
    auto snap = e->snapshot();
    EXPECT_EQ(e->get("key000", snap.get()).status().code(), Errc::unavailable);
    snap.reset();
    {
        auto it = e->iterate({});
        it->seek_to_first();
        EXPECT_FALSE(it->valid());
        EXPECT_EQ(it->status().code(), Errc::unavailable);
    }

    ASSERT_TRUE(server.restart().is_ok());
    // The same engine reconnects on its next call.
    auto v = e->get("key005");
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    EXPECT_EQ(*v, std::string(5, 'v'));
    EXPECT_EQ(*e->get("during-outage"), std::nullopt);
    e.reset();
    // And a new engine sees exactly what was acknowledged.
    e = open(server);
    std::vector<std::pair<std::string, std::string>> after;
    auto it = e->iterate({});
    for (it->seek_to_first(); it->valid(); it->next()) after.emplace_back(it->key(), it->value());
    EXPECT_EQ(after, before);
    auto size = e->approximate_size("", "\xff");
    ASSERT_TRUE(size.is_ok());
    EXPECT_GT(*size, 0u);
}

TEST_F(RedisEngineTest, KillUnderLoadLosesNothingAcknowledged) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().is_ok());
    auto e = open(server);
    std::atomic<int> acked{0}, failed{0};
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::set<int> acked_keys;  // guarded by mu
    std::thread writer([&] {
        for (int i = 0; !stop.load(); ++i) {
            WriteBatch b;
            b.put(fmt::format("load/{:06d}/a", i), std::to_string(i));
            b.put(fmt::format("load/{:06d}/b", i), std::to_string(i));
            if (e->write(b).is_ok()) {
                std::lock_guard lock(mu);
                acked_keys.insert(i);
                acked++;
            } else {
                failed++;
            }
        }
    });
    auto wait_for = [](const std::function<bool()>& cond) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!cond() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
        }
        return cond();
    };
    ASSERT_TRUE(wait_for([&] { return acked.load() >= 50; }));
    server.kill();
    ASSERT_TRUE(wait_for([&] { return failed.load() >= 5; }));
    ASSERT_TRUE(server.restart().is_ok());
    const int acked_at_restart = acked.load();
    ASSERT_TRUE(wait_for([&] { return acked.load() >= acked_at_restart + 50; }));
    stop = true;
    writer.join();

    auto check = open(server);
    std::lock_guard lock(mu);
    for (int i : acked_keys) {
        auto a = check->get(fmt::format("load/{:06d}/a", i));
        auto b = check->get(fmt::format("load/{:06d}/b", i));
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        ASSERT_EQ(*a, std::to_string(i)) << "acknowledged batch " << i << " lost";
        ASSERT_EQ(*b, std::to_string(i));
    }
    // Never half a batch, acknowledged or not.
    auto it = check->iterate({.lower_bound = "load/", .upper_bound = "load0"});
    std::map<std::string, int> halves;
    for (it->seek_to_first(); it->valid(); it->next())
        halves[std::string(it->key().substr(0, 12))]++;
    for (auto& [k, n] : halves) EXPECT_EQ(n, 2) << k;
}

}  // namespace
}  // namespace cleave::storage
