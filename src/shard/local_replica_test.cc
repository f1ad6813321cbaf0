// LocalReplica through transient engine failures (an engine on a Redis server
// that goes away and comes back): proposals fail with unavailable while the
// engine is down, service resumes when it returns, and a command whose log
// append was applied but whose reply was lost is replayed exactly once.

#include "shard/local_replica.h"

#include <gtest/gtest.h>

#include <atomic>

#include "storage/memory/memory_engine.h"

namespace cleave::shard {
namespace {

// An engine over a MemoryEngine that can be "down" (every call fails with
// unavailable) or lose the reply of its next write (applied, but reported as
// unavailable) — the two ways a remote engine fails.
class FlakyEngine final : public storage::Engine {
  public:
    std::atomic<bool> down{false};
    std::atomic<bool> lose_next_write_reply{false};

    Result<std::optional<std::string>> get(std::string_view key,
                                           const storage::Snapshot* snapshot) override {
        if (down) return gone();
        return inner_.get(key, snapshot);
    }
    Status write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
        if (down) return gone();
        Status s = inner_.write(batch, options);
        if (s.is_ok() && lose_next_write_reply.exchange(false)) return gone();
        return s;
    }
    std::unique_ptr<storage::Iterator> iterate(const storage::IterOptions& options) override {
        if (down) return std::make_unique<DeadIterator>();
        return inner_.iterate(options);
    }
    std::unique_ptr<storage::Snapshot> snapshot() override { return inner_.snapshot(); }
    Status sync() override { return down ? gone() : inner_.sync(); }
    Status checkpoint(const std::string& dir) override { return inner_.checkpoint(dir); }
    Result<uint64_t> approximate_size(std::string_view b, std::string_view e) override {
        return inner_.approximate_size(b, e);
    }
    std::string_view name() const override { return "flaky"; }

  private:
    class DeadIterator final : public storage::Iterator {
      public:
        void seek_to_first() override {}
        void seek(std::string_view) override {}
        bool valid() const override { return false; }
        void next() override {}
        std::string_view key() const override { return {}; }
        std::string_view value() const override { return {}; }
        Status status() const override { return gone(); }
    };
    static Status gone() { return Status::unavailable("engine server unreachable (test)"); }

    storage::MemoryEngine inner_;
};

Command create_bucket(const std::string& b) {
    Command c;
    c.set_time_ms(1000);
    c.mutable_create_bucket()->set_bucket(b);
    return c;
}

TEST(LocalReplicaTest, ResumesAfterTheEngineComesBack) {
    FlakyEngine engine;
    auto replica = LocalReplica::open(engine);
    ASSERT_TRUE(replica.is_ok()) << replica.status().to_string();
    auto ok = (*replica)->propose(create_bucket("first"));
    ASSERT_TRUE(ok.is_ok());
    ASSERT_TRUE(ok->status.is_ok());
    const uint64_t applied = (*replica)->applied_index();

    engine.down = true;
    for (int i = 0; i < 3; ++i) {
        auto r = (*replica)->propose(create_bucket("while-down"));
        ASSERT_FALSE(r.is_ok());
        EXPECT_EQ(r.status().code(), Errc::unavailable) << r.status().to_string();
    }
    EXPECT_EQ((*replica)->applied_index(), applied);

    engine.down = false;
    auto back = (*replica)->propose(create_bucket("after"));
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_TRUE(back->status.is_ok()) << back->status.to_string();
    // Nothing proposed while down was logged, so it can be created now.
    auto again = (*replica)->propose(create_bucket("while-down"));
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    EXPECT_TRUE(again->status.is_ok()) << again->status.to_string();
    EXPECT_EQ((*replica)->applied_index(), applied + 2);
}

TEST(LocalReplicaTest, AnAppendWhoseReplyWasLostIsReplayedOnce) {
    FlakyEngine engine;
    auto replica = LocalReplica::open(engine);
    ASSERT_TRUE(replica.is_ok()) << replica.status().to_string();

    engine.lose_next_write_reply = true;
    auto doubt = (*replica)->propose(create_bucket("in-doubt"));
    ASSERT_FALSE(doubt.is_ok());
    EXPECT_EQ(doubt.status().code(), Errc::unavailable);

    // The next proposal first recovers: the logged command is applied.
    auto next = (*replica)->propose(create_bucket("next"));
    ASSERT_TRUE(next.is_ok()) << next.status().to_string();
    EXPECT_TRUE(next->status.is_ok());
    EXPECT_EQ((*replica)->applied_index(), 2u);
    auto dup = (*replica)->propose(create_bucket("in-doubt"));
    ASSERT_TRUE(dup.is_ok()) << dup.status().to_string();
    EXPECT_FALSE(dup->status.is_ok()) << "the in-doubt bucket should exist after recovery";
}

}  // namespace
}  // namespace cleave::shard
