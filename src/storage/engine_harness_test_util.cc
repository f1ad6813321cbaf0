#include "storage/engine_harness_test_util.h"

#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "storage/memory/memory_engine.h"
#include "storage/open_engine.h"
#include "storage/redis/redis_engine.h"
#include "storage/redis/redis_server_test_util.h"

namespace cleave::storage {

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cleave-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    CLEAVE_ASSERT(p != nullptr, "mkdtemp {} failed", tmpl);
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

namespace {

std::unique_ptr<Engine> must(Result<std::unique_ptr<Engine>> r) {
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r.is_ok()) return nullptr;
    return std::move(r).value();
}

class MemoryHarness final : public EngineHarness {
  public:
    std::unique_ptr<Engine> open() override {
        return must(open_engine({.kind = "memory", .memory_disk = disk_}));
    }
    std::unique_ptr<Engine> open_checkpoint(const std::string& dir) override {
        return must(open_engine({.kind = "memory", .path = dir}));
    }

  private:
    std::shared_ptr<MemoryDisk> disk_ = std::make_shared<MemoryDisk>();
};

class RocksDbHarness final : public EngineHarness {
  public:
    std::unique_ptr<Engine> open() override {
        return must(open_engine(
            {.kind = "rocksdb", .path = scratch_dir() + "/db", .block_cache_bytes = 8 << 20}));
    }
    std::unique_ptr<Engine> open_checkpoint(const std::string& dir) override {
        return must(open_engine({.kind = "rocksdb", .path = dir, .block_cache_bytes = 8 << 20}));
    }
};

class RedisHarness final : public EngineHarness {
  public:
    Status start() { return server_.start(); }
    bool iterators_are_snapshots() const override { return false; }
    std::unique_ptr<Engine> open() override {
        return must(open_engine(
            {.kind = "redis", .redis_url = server_.url(), .redis_key_prefix = "test:"}));
    }
    std::unique_ptr<Engine> open_checkpoint(const std::string& dir) override {
        const std::string prefix = "checkpoint" + std::to_string(++checkpoints_) + ":";
        Status s =
            RedisEngine::restore_checkpoint(dir, {.url = server_.url(), .key_prefix = prefix});
        EXPECT_TRUE(s.is_ok()) << s.to_string();
        if (!s.is_ok()) return nullptr;
        return must(
            open_engine({.kind = "redis", .redis_url = server_.url(), .redis_key_prefix = prefix}));
    }

  private:
    RedisTestServer server_;
    int checkpoints_ = 0;
};

}  // namespace

std::unique_ptr<EngineHarness> make_redis_harness() {
    if (!RedisTestServer::available()) return nullptr;
    auto h = std::make_unique<RedisHarness>();
    Status s = h->start();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    if (!s.is_ok()) return nullptr;
    return h;
}

std::unique_ptr<EngineHarness> make_memory_harness() { return std::make_unique<MemoryHarness>(); }
std::unique_ptr<EngineHarness> make_rocksdb_harness() { return std::make_unique<RocksDbHarness>(); }

}  // namespace cleave::storage
