// One conformance suite for every Engine (DESIGN.md §8). Each engine kind is
// one EngineHarness plus one line in INSTANTIATE_TEST_SUITE_P at the bottom.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/random.h"
#include "storage/dump.h"
#include "storage/engine.h"
#include "storage/engine_harness_test_util.h"
#include "storage/memory/memory_engine.h"
#include "storage/open_engine.h"

namespace cleave::storage {
namespace {

using Harness = EngineHarness;

struct EngineParam {
    std::string name;
    std::function<std::unique_ptr<Harness>()> make;
};

// ---------------------------------------------------------------- helpers --

std::vector<std::pair<std::string, std::string>> scan(Engine& e, IterOptions o = {}) {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = e.iterate(o);
    for (it->seek_to_first(); it->valid(); it->next()) {
        out.emplace_back(std::string(it->key()), std::string(it->value()));
    }
    EXPECT_TRUE(it->status().is_ok()) << it->status().to_string();
    return out;
}

std::optional<std::string> get(Engine& e, std::string_view k, const Snapshot* s = nullptr) {
    auto r = e.get(k, s);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : std::nullopt;
}

std::string key(int i) { return fmt::format("k{:04d}", i); }

class EngineConformance : public ::testing::TestWithParam<EngineParam> {
  protected:
    void SetUp() override {
        harness_ = GetParam().make();
        if (!harness_) GTEST_SKIP() << GetParam().name << " engine is not available here";
        engine_ = harness_->open();
        ASSERT_NE(engine_, nullptr);
    }
    void TearDown() override {
        engine_.reset();
        harness_.reset();
    }
    // Closes the engine and opens a new one on the same storage.
    void reopen() {
        engine_.reset();
        engine_ = harness_->open();
        ASSERT_NE(engine_, nullptr);
    }

    std::unique_ptr<Harness> harness_;
    std::unique_ptr<Engine> engine_;
};

// ------------------------------------------------------------- point ops --

TEST_P(EngineConformance, PutGetOverwriteDelete) {
    Engine& e = *engine_;
    EXPECT_EQ(get(e, "a"), std::nullopt);
    ASSERT_TRUE(e.put("a", "1").is_ok());
    EXPECT_EQ(get(e, "a"), "1");
    ASSERT_TRUE(e.put("a", "2").is_ok());
    EXPECT_EQ(get(e, "a"), "2");
    ASSERT_TRUE(e.del("a").is_ok());
    EXPECT_EQ(get(e, "a"), std::nullopt);
    // Deleting an absent key is not an error.
    ASSERT_TRUE(e.del("never-there").is_ok());
    EXPECT_EQ(get(e, "never-there"), std::nullopt);
}

TEST_P(EngineConformance, EmptyValueIsPresent) {
    Engine& e = *engine_;
    ASSERT_TRUE(e.put("empty", "").is_ok());
    EXPECT_EQ(get(e, "empty"), std::string());
    auto all = scan(e);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].first, "empty");
    EXPECT_EQ(all[0].second, "");
}

TEST_P(EngineConformance, BinaryKeysAndValuesOrderBytewise) {
    Engine& e = *engine_;
    const std::vector<std::string> keys = {
        std::string(),         // the empty key
        std::string("\0", 1),  // a single zero byte
        std::string("\0\0", 2),
        std::string("a"),
        std::string("a\0", 2),
        std::string("a\x01"),
        std::string("a\x7f"),
        std::string("a\x80"),
        std::string("a\xff"),
        std::string("a\xff\xff"),
        std::string("b"),
        std::string("\xff"),
        std::string("\xff\xff\xff\xff"),
    };
    // Insert in reverse to show the order comes from the engine.
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
        std::string value = "v" + *it + std::string("\0\xff", 2);
        ASSERT_TRUE(e.put(*it, value).is_ok());
    }
    for (const auto& k : keys) {
        EXPECT_EQ(get(e, k), "v" + k + std::string("\0\xff", 2));
    }
    auto all = scan(e);
    ASSERT_EQ(all.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(all[i].first, keys[i]) << "position " << i;
        EXPECT_EQ(all[i].second, "v" + keys[i] + std::string("\0\xff", 2));
    }
    // Bounds that contain zero and 0xff bytes.
    auto mid = scan(e, {.lower_bound = std::string("a\0", 2), .upper_bound = std::string("a\xff")});
    ASSERT_EQ(mid.size(), 4u);
    EXPECT_EQ(mid.front().first, std::string("a\0", 2));
    EXPECT_EQ(mid.back().first, std::string("a\x80"));
}

TEST_P(EngineConformance, LargeValue) {
    Engine& e = *engine_;
    std::string big(1 << 20, '\0');
    Random rng(7);
    for (auto& c : big) c = static_cast<char>(rng.next_u64());
    ASSERT_TRUE(e.put("big", big).is_ok());
    EXPECT_EQ(get(e, "big"), big);
}

// ------------------------------------------------------------------ scans --

class EngineScan : public EngineConformance {
  protected:
    void SetUp() override {
        EngineConformance::SetUp();
        if (IsSkipped()) return;
        WriteBatch b;
        for (int i = 0; i < 100; ++i) b.put(key(i), "v" + std::to_string(i));
        ASSERT_TRUE(engine_->write(b).is_ok());
    }
};

TEST_P(EngineScan, WholeRangeInOrder) {
    auto all = scan(*engine_);
    ASSERT_EQ(all.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(all[i].first, key(i));
        EXPECT_EQ(all[i].second, "v" + std::to_string(i));
    }
}

TEST_P(EngineScan, LowerAndUpperBounds) {
    auto r = scan(*engine_, {.lower_bound = key(10), .upper_bound = key(20)});
    ASSERT_EQ(r.size(), 10u);
    EXPECT_EQ(r.front().first, key(10));  // lower is inclusive
    EXPECT_EQ(r.back().first, key(19));   // upper is exclusive

    // Bounds between keys.
    r = scan(*engine_, {.lower_bound = key(10) + "x", .upper_bound = key(12) + "x"});
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].first, key(11));
    EXPECT_EQ(r[1].first, key(12));

    // Only a lower bound.
    r = scan(*engine_, {.lower_bound = key(95)});
    ASSERT_EQ(r.size(), 5u);
    EXPECT_EQ(r.back().first, key(99));

    // Empty and inverted ranges yield nothing.
    EXPECT_TRUE(scan(*engine_, {.lower_bound = key(5), .upper_bound = key(5)}).empty());
    EXPECT_TRUE(scan(*engine_, {.lower_bound = key(7), .upper_bound = key(5)}).empty());
    EXPECT_TRUE(scan(*engine_, {.lower_bound = "l"}).empty());
    EXPECT_TRUE(scan(*engine_, {.lower_bound = "", .upper_bound = "k"}).empty());
}

TEST_P(EngineScan, SeekWithinBounds) {
    auto it = engine_->iterate({.lower_bound = key(10), .upper_bound = key(20)});
    it->seek(key(15));
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), key(15));
    it->seek(key(15) + "\x01");  // between keys: the next one
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), key(16));
    it->seek("a");  // before the lower bound: clamps to it
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), key(10));
    it->seek(key(19));
    ASSERT_TRUE(it->valid());
    it->next();
    EXPECT_FALSE(it->valid());  // stops at the upper bound
    it->seek(key(50));          // past the upper bound
    EXPECT_FALSE(it->valid());
    it->seek_to_first();  // and back
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), key(10));
    EXPECT_TRUE(it->status().is_ok());
}

TEST_P(EngineScan, IteratorSeesStateAtCreation) {
    // RocksDB and memory iterators are consistent views: writes after an
    // iterator's creation do not show up in it (an implicit snapshot). The
    // Redis engine promises less without an explicit snapshot (see
    // redis_engine.h): every key present throughout is seen once, in order.
    auto it = engine_->iterate({});
    ASSERT_TRUE(engine_->put(key(50) + "new", "x").is_ok());
    ASSERT_TRUE(engine_->put(key(70) + "new", "x").is_ok());
    ASSERT_TRUE(engine_->del(key(60)).is_ok());
    std::vector<std::string> seen;
    for (it->seek_to_first(); it->valid(); it->next()) seen.emplace_back(it->key());
    ASSERT_TRUE(it->status().is_ok());
    if (harness_->iterators_are_snapshots()) {
        ASSERT_EQ(seen.size(), 100u);
        for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], key(i));
    } else {
        EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
        EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
        for (int i = 0; i < 100; ++i) {
            if (i == 60) continue;
            EXPECT_TRUE(std::binary_search(seen.begin(), seen.end(), key(i))) << key(i);
        }
    }
}

TEST_P(EngineConformance, LongScanAcrossManyEntries) {
    // More entries than any engine's internal page, with a value per key.
    WriteBatch b;
    for (int i = 0; i < 1000; ++i) b.put(key(i), std::to_string(i * 7));
    ASSERT_TRUE(engine_->write(b).is_ok());
    auto all = scan(*engine_, {.lower_bound = key(1), .upper_bound = key(999)});
    ASSERT_EQ(all.size(), 998u);
    for (int i = 1; i < 999; ++i) {
        ASSERT_EQ(all[i - 1].first, key(i));
        ASSERT_EQ(all[i - 1].second, std::to_string(i * 7));
    }
}

// --------------------------------------------------------------- batches --

TEST_P(EngineConformance, BatchAppliesPutDeleteAndDeleteRangeTogether) {
    Engine& e = *engine_;
    WriteBatch setup;
    for (int i = 0; i < 10; ++i) setup.put(key(i), "old");
    ASSERT_TRUE(e.write(setup).is_ok());

    WriteBatch b;
    b.delete_range(key(2), key(5));  // removes 2, 3, 4
    b.put(key(3), "resurrected");    // later op in the same batch wins
    b.del(key(7));
    b.put("new", "n");
    b.put(key(0), "changed");
    ASSERT_TRUE(e.write(b).is_ok());

    std::vector<std::pair<std::string, std::string>> want = {
        {key(0), "changed"}, {key(1), "old"}, {key(3), "resurrected"}, {key(5), "old"},
        {key(6), "old"},     {key(8), "old"}, {key(9), "old"},         {"new", "n"},
    };
    EXPECT_EQ(scan(e), want);
}

TEST_P(EngineConformance, DeleteRangeEdges) {
    Engine& e = *engine_;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.put(key(i), "v").is_ok());
    WriteBatch empty_range;
    empty_range.delete_range(key(2), key(2));  // empty: a no-op
    ASSERT_TRUE(e.write(empty_range).is_ok());
    EXPECT_EQ(scan(e).size(), 5u);

    WriteBatch all;
    all.delete_range("", "\xff\xff");
    ASSERT_TRUE(e.write(all).is_ok());
    EXPECT_TRUE(scan(e).empty());
}

TEST_P(EngineConformance, RejectedBatchAppliesNothing) {
    Engine& e = *engine_;
    ASSERT_TRUE(e.put("keep", "1").is_ok());
    WriteBatch b;
    b.put("a", "1");
    b.del("keep");
    b.delete_range("z", "a");  // inverted: invalid
    Status s = e.write(b);
    EXPECT_EQ(s.code(), Errc::invalid_argument) << s.to_string();
    EXPECT_EQ(get(e, "a"), std::nullopt);
    EXPECT_EQ(get(e, "keep"), "1");
}

TEST_P(EngineConformance, ConcurrentBatchesAreNeverSeenHalfApplied) {
    // Writers move a fixed total between two keys in one batch; a reader
    // must always see the total unchanged.
    Engine& e = *engine_;
    WriteBatch init;
    init.put("acct/a", "100");
    init.put("acct/b", "0");
    ASSERT_TRUE(e.write(init).is_ok());
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!stop.load()) {
            auto snap = e.snapshot();
            auto a = e.get("acct/a", snap.get());
            auto b = e.get("acct/b", snap.get());
            if (!a.is_ok() || !b.is_ok() || !a->has_value() || !b->has_value() ||
                std::stoi(**a) + std::stoi(**b) != 100) {
                bad++;
            }
        }
    });
    for (int i = 1; i <= 200; ++i) {
        WriteBatch b;
        b.put("acct/a", std::to_string(100 - i % 101));
        b.put("acct/b", std::to_string(i % 101));
        ASSERT_TRUE(e.write(b, {.sync = false}).is_ok());
    }
    stop = true;
    reader.join();
    EXPECT_EQ(bad.load(), 0);
}

// ------------------------------------------------------------- snapshots --

TEST_P(EngineConformance, SnapshotIsolatedFromLaterWrites) {
    Engine& e = *engine_;
    ASSERT_TRUE(e.put("a", "1").is_ok());
    ASSERT_TRUE(e.put("b", "1").is_ok());
    auto snap = e.snapshot();
    ASSERT_TRUE(e.put("a", "2").is_ok());
    ASSERT_TRUE(e.del("b").is_ok());
    ASSERT_TRUE(e.put("c", "2").is_ok());
    WriteBatch dr;
    dr.delete_range("a", "b");
    ASSERT_TRUE(e.write(dr).is_ok());

    EXPECT_EQ(get(e, "a", snap.get()), "1");
    EXPECT_EQ(get(e, "b", snap.get()), "1");
    EXPECT_EQ(get(e, "c", snap.get()), std::nullopt);
    EXPECT_EQ(get(e, "a"), std::nullopt);
    EXPECT_EQ(get(e, "c"), "2");

    std::vector<std::pair<std::string, std::string>> old = {{"a", "1"}, {"b", "1"}};
    EXPECT_EQ(scan(e, {.snapshot = snap.get()}), old);
    std::vector<std::pair<std::string, std::string>> now = {{"c", "2"}};
    EXPECT_EQ(scan(e), now);
}

TEST_P(EngineConformance, IteratorOverSnapshotWithBounds) {
    Engine& e = *engine_;
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(e.put(key(i), "s").is_ok());
    auto snap = e.snapshot();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(e.put(key(i), "later").is_ok());
    for (int i = 20; i < 30; ++i) ASSERT_TRUE(e.put(key(i), "later").is_ok());
    auto r = scan(e, {.lower_bound = key(15), .upper_bound = key(25), .snapshot = snap.get()});
    ASSERT_EQ(r.size(), 5u);
    for (auto& [k, v] : r) EXPECT_EQ(v, "s") << k;
    // Two snapshots at different moments coexist.
    auto snap2 = e.snapshot();
    ASSERT_TRUE(e.del(key(0)).is_ok());
    EXPECT_EQ(get(e, key(0), snap.get()), "s");
    EXPECT_EQ(get(e, key(0), snap2.get()), "later");
    EXPECT_EQ(get(e, key(0)), std::nullopt);
}

// ------------------------------------------------------------ durability --

TEST_P(EngineConformance, ReopenKeepsSyncedWrites) {
    WriteBatch b;
    for (int i = 0; i < 50; ++i) b.put(key(i), std::string(100, char('a' + i % 26)));
    ASSERT_TRUE(engine_->write(b, {.sync = true}).is_ok());
    ASSERT_TRUE(engine_->del(key(3), {.sync = true}).is_ok());
    ASSERT_TRUE(engine_->put("unsynced-then-synced", "x", {.sync = false}).is_ok());
    ASSERT_TRUE(engine_->sync().is_ok());
    auto before = scan(*engine_);
    reopen();
    EXPECT_EQ(scan(*engine_), before);
    EXPECT_EQ(get(*engine_, key(3)), std::nullopt);
    EXPECT_EQ(get(*engine_, "unsynced-then-synced"), "x");
    // And it keeps taking writes.
    ASSERT_TRUE(engine_->put("after", "reopen").is_ok());
    reopen();
    EXPECT_EQ(get(*engine_, "after"), "reopen");
}

TEST_P(EngineConformance, CheckpointIsAnOpenableCopyAtThatMoment) {
    Engine& e = *engine_;
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(e.put(key(i), "cp").is_ok());
    const std::string dir = harness_->scratch_dir() + "/checkpoint";
    ASSERT_TRUE(e.checkpoint(dir).is_ok());
    ASSERT_TRUE(e.put("after-checkpoint", "x").is_ok());
    auto copy = harness_->open_checkpoint(dir);
    ASSERT_NE(copy, nullptr);
    auto r = scan(*copy);
    ASSERT_EQ(r.size(), 30u);
    EXPECT_EQ(get(*copy, "after-checkpoint"), std::nullopt);
    // The copy is independent of the original.
    ASSERT_TRUE(copy->put(key(0), "changed in copy").is_ok());
    EXPECT_EQ(get(e, key(0)), "cp");
    copy.reset();
    // A checkpoint never overwrites an existing directory.
    EXPECT_FALSE(e.checkpoint(dir).is_ok());
}

TEST_P(EngineConformance, ApproximateSizeGrowsWithData) {
    // Estimates are estimates (RocksDB's come from index blocks and
    // compressed file sizes; its memtable part is counted, since its own
    // memtable estimate fell to 0.17x of the bytes). The contract checked:
    // the estimate tracks the bytes written (incompressible values, within a
    // factor of three once there is some data) and so grows with them, and
    // an empty range stays near zero.
    Engine& e = *engine_;
    const std::string lo = "size/", hi = "size0";
    auto first = e.approximate_size(lo, hi);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_LT(*first, 16u * 1024);
    Random rng(11);
    uint64_t written = 0;
    std::vector<uint64_t> estimates;
    for (int round = 0; round < 16; ++round) {
        WriteBatch b;
        for (int i = 0; i < 64; ++i) {
            std::string v(1024, '\0');
            for (auto& c : v) c = static_cast<char>(rng.next_u64());
            std::string k = fmt::format("size/{:02d}/{:03d}", round, i);
            written += k.size() + v.size();
            b.put(k, v);
        }
        ASSERT_TRUE(e.write(b).is_ok());
        auto now = e.approximate_size(lo, hi);
        ASSERT_TRUE(now.is_ok()) << now.status().to_string();
        estimates.push_back(*now);
        if (round >= 3) {
            EXPECT_GE(*now, written / 3) << "round " << round;
            EXPECT_LE(*now, written * 2 + 64 * 1024) << "round " << round;
        }
    }
    // Eight times the data: clearly more, whatever the noise.
    EXPECT_GT(estimates.back(), estimates[1] * 2);
    auto none = e.approximate_size("zzz", "zzzz");
    ASSERT_TRUE(none.is_ok());
    EXPECT_LT(*none, 64u * 1024);
}

// --------------------------------------------------- randomised vs oracle --

TEST_P(EngineConformance, RandomOpsMatchOracle) {
    const uint64_t seed = std::getenv("CLEAVE_SEED")
                              ? std::strtoull(std::getenv("CLEAVE_SEED"), nullptr, 10)
                              : 0x5eed0001;
    SCOPED_TRACE(fmt::format("seed {} (replay with CLEAVE_SEED={})", seed, seed));
    Random rng(seed);
    Engine& e = *engine_;
    std::map<std::string, std::string> oracle;
    auto rkey = [&] {
        std::string k;
        const int len = static_cast<int>(rng.range(0, 3));
        for (int i = 0; i < len; ++i)
            k.push_back(
                "\x00\x01"
                "ab\xfe\xff"[rng.uniform(6)]);
        return k;
    };
    for (int step = 0; step < 300; ++step) {
        WriteBatch b;
        auto next = oracle;
        const int n = static_cast<int>(rng.range(1, 4));
        for (int i = 0; i < n; ++i) {
            switch (rng.uniform(4)) {
                case 0:
                case 1: {
                    std::string k = rkey(), v = std::to_string(rng.uniform(1000));
                    b.put(k, v);
                    next[k] = v;
                    break;
                }
                case 2: {
                    std::string k = rkey();
                    b.del(k);
                    next.erase(k);
                    break;
                }
                default: {
                    std::string lo = rkey(), hi = rkey();
                    if (hi < lo) std::swap(lo, hi);
                    b.delete_range(lo, hi);
                    next.erase(next.lower_bound(lo), next.lower_bound(hi));
                    break;
                }
            }
        }
        ASSERT_TRUE(e.write(b, {.sync = false}).is_ok());
        oracle = std::move(next);
        if (step % 10 == 0) {
            std::string lo = rkey(), hi = rkey();
            if (hi < lo) std::swap(lo, hi);
            std::vector<std::pair<std::string, std::string>> want(oracle.lower_bound(lo),
                                                                  oracle.lower_bound(hi));
            ASSERT_EQ(scan(e, {.lower_bound = lo, .upper_bound = hi}), want) << "step " << step;
            std::string k = rkey();
            auto it = oracle.find(k);
            ASSERT_EQ(get(e, k), it == oracle.end() ? std::nullopt : std::optional(it->second));
        }
    }
    std::vector<std::pair<std::string, std::string>> want(oracle.begin(), oracle.end());
    ASSERT_EQ(scan(e), want);
}

// --------------------------------------------------------- the engines --

std::vector<EngineParam> engines() {
    return {
        {"memory", [] { return make_memory_harness(); }},
        {"rocksdb", [] { return make_rocksdb_harness(); }},
        {"redis", [] { return make_redis_harness(); }},
    };
}

std::string param_name(const ::testing::TestParamInfo<EngineParam>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineConformance, ::testing::ValuesIn(engines()), param_name);
INSTANTIATE_TEST_SUITE_P(Engines, EngineScan, ::testing::ValuesIn(engines()), param_name);

// ------------------------------------------------- memory-engine specific --

TEST(MemoryEngine, DropUnsyncedLosesExactlyTheUnsyncedBatches) {
    auto disk = std::make_shared<MemoryDisk>();
    {
        MemoryEngine e(disk);
        ASSERT_TRUE(e.put("s1", "1", {.sync = true}).is_ok());
        WriteBatch b;
        b.put("u1", "1");
        b.put("u2", "2");
        b.del("s1");
        ASSERT_TRUE(e.write(b, {.sync = false}).is_ok());
        ASSERT_TRUE(e.put("u3", "3", {.sync = false}).is_ok());
        EXPECT_EQ(disk->unsynced_batches(), 2u);
        EXPECT_EQ(get(e, "u1"), "1");
        EXPECT_EQ(get(e, "s1"), std::nullopt);
    }
    // A clean close loses nothing.
    {
        MemoryEngine e(disk);
        EXPECT_EQ(get(e, "u3"), "3");
    }
    disk->drop_unsynced();
    {
        MemoryEngine e(disk);
        std::vector<std::pair<std::string, std::string>> want = {{"s1", "1"}};
        EXPECT_EQ(scan(e), want);  // both unsynced batches gone whole, s1 back
        // A sync write makes earlier unsynced writes durable too (one WAL).
        ASSERT_TRUE(e.put("u4", "4", {.sync = false}).is_ok());
        ASSERT_TRUE(e.put("s2", "2", {.sync = true}).is_ok());
        ASSERT_TRUE(e.put("u5", "5", {.sync = false}).is_ok());
        ASSERT_TRUE(e.put("u6", "6", {.sync = false}).is_ok());
        ASSERT_TRUE(e.sync().is_ok());
        ASSERT_TRUE(e.put("u7", "7", {.sync = false}).is_ok());
    }
    disk->drop_unsynced();
    MemoryEngine e(disk);
    std::vector<std::pair<std::string, std::string>> want = {
        {"s1", "1"}, {"s2", "2"}, {"u4", "4"}, {"u5", "5"}, {"u6", "6"}};
    EXPECT_EQ(scan(e), want);
    EXPECT_EQ(disk->unsynced_batches(), 0u);
}

TEST(MemoryEngine, SnapshotSurvivesDropUnsynced) {
    auto disk = std::make_shared<MemoryDisk>();
    MemoryEngine e(disk);
    ASSERT_TRUE(e.put("a", "1", {.sync = false}).is_ok());
    auto snap = e.snapshot();
    disk->drop_unsynced();
    EXPECT_EQ(get(e, "a"), std::nullopt);
    EXPECT_EQ(get(e, "a", snap.get()), "1");  // the view taken before stays whole
}

TEST(MemoryEngine, InjectedWriteFailureChangesNothing) {
    auto disk = std::make_shared<MemoryDisk>();
    MemoryEngine e(disk);
    ASSERT_TRUE(e.put("a", "1").is_ok());
    disk->set_fail_writes(true);
    EXPECT_EQ(e.put("a", "2").code(), Errc::io_error);
    EXPECT_EQ(e.sync().code(), Errc::io_error);
    EXPECT_EQ(get(e, "a"), "1");
    disk->set_fail_writes(false);
    ASSERT_TRUE(e.put("a", "2").is_ok());
    EXPECT_EQ(get(e, "a"), "2");
}

TEST(MemoryEngine, DamagedCheckpointIsCorruption) {
    auto h = make_memory_harness();
    MemoryEngine e;
    ASSERT_TRUE(e.put("a", "1").is_ok());
    const std::string dir = h->scratch_dir() + "/cp";
    ASSERT_TRUE(e.checkpoint(dir).is_ok());
    const std::string file = dir + "/" + std::string(kDumpFileName);
    std::FILE* f = std::fopen(file.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, -6, SEEK_END);
    std::fputc('Z', f);
    std::fclose(f);
    auto r = MemoryEngine::open_checkpoint(dir);
    EXPECT_EQ(r.status().code(), Errc::corruption);
    // The factory must not turn a damaged checkpoint into an empty engine.
    auto via_factory = open_engine({.kind = "memory", .path = dir});
    EXPECT_EQ(via_factory.status().code(), Errc::corruption);
}

TEST(OpenEngine, UnknownKindIsInvalidArgument) {
    auto r = open_engine({.kind = "floppy"});
    EXPECT_EQ(r.status().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace cleave::storage
