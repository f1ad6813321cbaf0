#include "shard/split_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/hash.h"
#include "meta/keyspace.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"
#include "storage/memory/memory_engine.h"

namespace cleave::shard {
namespace {

// Writes an object record straight into the engine (the state machine's
// format) and returns its pk.
std::string put_object(storage::Engine& e, const std::string& bucket, const std::string& key,
                       const std::string& inline_data, uint64_t chunked_size = 0) {
    ObjectRecord rec;
    rec.set_etag(to_hex(md5(key)));
    if (chunked_size > 0) {
        rec.mutable_body()->set_size(chunked_size);
        auto* chunk = rec.mutable_body()->add_chunks();
        chunk->set_id(sha256(key));
        chunk->set_size(chunked_size);
    } else {
        rec.mutable_body()->set_size(inline_data.size());
        rec.mutable_body()->set_inline_data(inline_data);
    }
    const std::string pk = meta::placement_key(bucket, key);
    EXPECT_TRUE(e.put(keys::with_family(keys::kObject, pk), rec.SerializeAsString()).is_ok());
    return pk;
}

// Bytes of the objects below and at-or-above `cut`, weighed as split_key.h says.
struct Halves {
    uint64_t lower = 0;
    uint64_t upper = 0;
    std::vector<std::string> lower_pks;
    std::vector<std::string> upper_pks;
};
Halves halves(storage::Engine& e, const std::string& cut) {
    Halves h;
    auto it = e.iterate({.lower_bound = "o", .upper_bound = "p"});
    for (it->seek_to_first(); it->valid(); it->next()) {
        ObjectRecord rec;
        EXPECT_TRUE(rec.ParseFromString(std::string(it->value())));
        uint64_t w = it->key().size() + it->value().size();
        if (rec.body().inline_data().empty()) w += rec.body().size();
        const std::string pk(it->key().substr(1));
        if (pk < cut) {
            h.lower += w;
            h.lower_pks.push_back(pk);
        } else {
            h.upper += w;
            h.upper_pks.push_back(pk);
        }
    }
    return h;
}

ShardDescriptor whole() { return ShardDescriptor{}; }

TEST(SplitKeyTest, EqualObjectsInManyDirectoriesSplitNearTheMiddleAtADirectoryStart) {
    storage::MemoryEngine e;
    for (int dir = 0; dir < 20; ++dir) {
        for (int i = 0; i < 5; ++i) {
            put_object(e, "b", fmt::format("dir{:02}/obj{}", dir, i), std::string(1000, 'x'));
        }
    }
    auto key = choose_split_key(e, whole());
    ASSERT_TRUE(key.is_ok()) << key.status().to_string();
    ASSERT_TRUE(key->has_value());
    // A directory start: the 8-byte hash prefix, so no directory is cut.
    EXPECT_EQ((*key)->size(), 8u);
    const Halves h = halves(e, **key);
    const uint64_t total = h.lower + h.upper;
    auto bytes = shard_bytes(e);
    ASSERT_TRUE(bytes.is_ok());
    EXPECT_EQ(*bytes, total);
    // Directories are 5% each: the cut is at most one directory off.
    EXPECT_GE(h.lower * 100, total * 45) << h.lower << " of " << total;
    EXPECT_GE(h.upper * 100, total * 45) << h.upper << " of " << total;
    EXPECT_EQ(h.lower_pks.size() % 5, 0u);
}

TEST(SplitKeyTest, OneHugeDirectoryIsCutInsideIt) {
    storage::MemoryEngine e;
    for (int i = 0; i < 40; ++i) put_object(e, "b", fmt::format("only/obj{:02}", i), "data");
    auto key = choose_split_key(e, whole());
    ASSERT_TRUE(key.is_ok());
    ASSERT_TRUE(key->has_value());
    const Halves h = halves(e, **key);
    EXPECT_EQ(h.lower_pks.size(), 20u);
    EXPECT_EQ(h.upper_pks.size(), 20u);
}

// A few small directories sort before a huge one: cutting at the huge one's
// start would leave them alone below, so the cut goes inside it.
TEST(SplitKeyTest, ADirectoryStartThatKeepsTooLittleBelowIsNotUsed) {
    storage::MemoryEngine e;
    // A huge directory in the upper half of the hash space, and small ones
    // before it (names found by their hashes, deterministically).
    std::string huge;
    for (int j = 0; huge.empty() && j < 1000; ++j) {
        const std::string root = fmt::format("huge{}/", j);
        if (static_cast<unsigned char>(meta::hash_prefix("b", root)[0]) >= 0x80) huge = root;
    }
    ASSERT_FALSE(huge.empty());
    int small = 0;
    for (int j = 0; small < 4 && j < 1000; ++j) {
        const std::string root = fmt::format("small{}/", j);
        if (meta::hash_prefix("b", root) < meta::hash_prefix("b", huge)) {
            put_object(e, "b", root + "obj", "data");
            ++small;
        }
    }
    ASSERT_EQ(small, 4);
    for (int i = 0; i < 40; ++i) put_object(e, "b", fmt::format("{}obj{:02}", huge, i), "data");
    auto key = choose_split_key(e, whole());
    ASSERT_TRUE(key.is_ok());
    ASSERT_TRUE(key->has_value());
    const Halves h = halves(e, **key);
    EXPECT_GE(h.lower_pks.size(), 21u);
    EXPECT_LE(h.lower_pks.size(), 23u);
}

TEST(SplitKeyTest, AChunkedObjectWeighsItsSize) {
    storage::MemoryEngine e;
    std::vector<std::string> pks;
    for (int i = 0; i < 20; ++i) {
        pks.push_back(put_object(e, "b", fmt::format("d{:02}/small", i), std::string(1000, 'x')));
    }
    const std::string big = put_object(e, "b", "big/video", "", 100ull << 20);
    auto bytes = shard_bytes(e);
    ASSERT_TRUE(bytes.is_ok());
    EXPECT_GT(*bytes, 100ull << 20);
    EXPECT_LT(*bytes, (100ull << 20) + 100'000);

    // The big object holds the middle byte: the cut falls right before it
    // (its directory start would keep too little below) or, when it is the
    // first object, right after it.
    auto key = choose_split_key(e, whole());
    ASSERT_TRUE(key.is_ok());
    ASSERT_TRUE(key->has_value());
    const Halves h = halves(e, **key);
    ASSERT_FALSE(h.lower_pks.empty());
    ASSERT_FALSE(h.upper_pks.empty());
    EXPECT_TRUE(h.upper_pks.front() == big || h.lower_pks.back() == big)
        << "cut " << to_hex(**key) << " big " << to_hex(big);

    // Started at the big object, the shard keeps it alone.
    ShardDescriptor from_big;
    from_big.set_start(big);
    auto after = choose_split_key(e, from_big);
    ASSERT_TRUE(after.is_ok());
    ASSERT_TRUE(after->has_value());
    EXPECT_GT(**after, big);
    const Halves ha = halves(e, **after);
    EXPECT_EQ(ha.lower_pks.back(), big);
    EXPECT_EQ(std::count_if(pks.begin(), pks.end(),
                            [&](const std::string& pk) { return pk > big && pk < **after; }),
              0);
}

TEST(SplitKeyTest, FewerThanTwoObjectsInTheRangeHaveNoSplitKey) {
    storage::MemoryEngine e;
    auto none = choose_split_key(e, whole());
    ASSERT_TRUE(none.is_ok());
    EXPECT_FALSE(none->has_value());

    const std::string a = put_object(e, "b", "a/1", "x");
    auto one = choose_split_key(e, whole());
    ASSERT_TRUE(one.is_ok());
    EXPECT_FALSE(one->has_value());

    const std::string b = put_object(e, "b", "b/1", "y");
    auto two = choose_split_key(e, whole());
    ASSERT_TRUE(two.is_ok());
    ASSERT_TRUE(two->has_value());
    EXPECT_GT(**two, std::min(a, b));
    EXPECT_LE(**two, std::max(a, b));

    // Objects outside the range do not count.
    ShardDescriptor just_one;
    just_one.set_start(std::min(a, b));
    just_one.set_end(std::max(a, b));
    auto inside = choose_split_key(e, just_one);
    ASSERT_TRUE(inside.is_ok());
    EXPECT_FALSE(inside->has_value());
}

TEST(SplitKeyTest, TheKeyIsStrictlyInsideTheRange) {
    storage::MemoryEngine e;
    std::vector<std::string> pks;
    for (int i = 0; i < 60; ++i) pks.push_back(put_object(e, "b", fmt::format("k{}/o", i), "v"));
    std::sort(pks.begin(), pks.end());
    // Ranges starting and ending on object pks and between them.
    for (size_t lo = 0; lo + 2 < pks.size(); lo += 7) {
        for (size_t hi = lo + 2; hi < pks.size(); hi += 11) {
            ShardDescriptor r;
            r.set_start(pks[lo]);
            r.set_end(pks[hi]);
            auto key = choose_split_key(e, r);
            ASSERT_TRUE(key.is_ok());
            ASSERT_TRUE(key->has_value()) << lo << " " << hi;
            EXPECT_GT(**key, r.start());
            EXPECT_LT(**key, r.end());
            EXPECT_TRUE(range_contains(r, **key));
        }
    }
}

}  // namespace
}  // namespace cleave::shard
