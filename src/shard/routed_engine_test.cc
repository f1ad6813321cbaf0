#include "shard/routed_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>

#include "common/random.h"
#include "meta/keyspace.h"
#include "shard/reads.h"
#include "shard/record_keys.h"
#include "shard/state_machine.h"
#include "storage/memory/memory_engine.h"

namespace cleave::shard {
namespace {

uint64_t seed_from_env() {
    const char* s = std::getenv("CLEAVE_TEST_SEED");
    const uint64_t seed = s ? std::strtoull(s, nullptr, 10) : std::random_device{}();
    std::cout << "seed " << seed << " (replay with CLEAVE_TEST_SEED=" << seed << ")\n";
    return seed;
}

// One bucket's objects applied to a single engine (the reference), then cut
// by hand into shards at chosen pks (what a split leaves behind).
class RoutedEngineTest : public ::testing::Test {
  protected:
    void apply(Command c) {
        c.set_time_ms(1000);
        auto r = sm_.apply(++index_, c);
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        ASSERT_TRUE(r->status.is_ok()) << r->status.to_string();
    }
    void put(const std::string& key) {
        Command c;
        auto* p = c.mutable_put_object();
        p->set_bucket(kBucket);
        p->set_key(key);
        p->mutable_record()->set_etag("e");
        p->mutable_record()->mutable_body()->set_size(1);
        p->mutable_record()->mutable_body()->set_inline_data("x");
        Command m;
        m.mutable_ensure_dir_marker()->set_bucket(kBucket);
        m.mutable_ensure_dir_marker()->set_root(std::string(meta::root_of(key)));
        if (!meta::root_of(key).empty()) apply(m);
        apply(c);
    }

    // Copies every key of `whole` into one engine per range, with its range
    // record; families that are not cut (buckets) go to every shard.
    void cut(const std::vector<std::string>& bounds) {
        std::vector<std::string> starts = {""};
        starts.insert(starts.end(), bounds.begin(), bounds.end());
        for (size_t i = 0; i < starts.size(); ++i) {
            auto e = std::make_unique<storage::MemoryEngine>();
            const std::string end = i + 1 < starts.size() ? starts[i + 1] : "";
            storage::WriteBatch b;
            auto it = whole_.iterate({});
            for (it->seek_to_first(); it->valid(); it->next()) {
                std::string_view k = it->key();
                if (is_keyed_family(k[0])) {
                    std::string_view pk = k.substr(1);
                    if (pk < starts[i] || (!end.empty() && pk >= end)) continue;
                } else if (k[0] != keys::kBucket) {
                    continue;
                }
                b.put(k, it->value());
            }
            ShardDescriptor d;
            d.set_id(i + 1);
            d.set_start(starts[i]);
            d.set_end(end);
            d.set_epoch(2);
            b.put(keys::state("range"), d.SerializeAsString());
            ASSERT_TRUE(e->write(b).is_ok());
            table_.push_back({i + 1, starts[i], end, e.get()});
            engines_.push_back(std::move(e));
        }
    }

    static std::vector<std::string> list_all(storage::Engine& engine, const std::string& prefix,
                                             const std::string& delim, uint32_t page_size) {
        std::vector<std::string> out;
        std::string after;
        for (int pages = 0; pages < 100000; ++pages) {
            auto page = Reader(engine).list_objects(kBucket, prefix, delim, after, page_size);
            EXPECT_TRUE(page.is_ok()) << page.status().to_string();
            if (!page.is_ok()) break;
            std::vector<std::string> items;
            for (auto& o : page->objects) items.push_back(o.key);
            for (auto& p : page->common_prefixes) items.push_back(p);
            std::sort(items.begin(), items.end());
            out.insert(out.end(), items.begin(), items.end());
            if (!page->is_truncated) break;
            after = page->next_start_after;
        }
        return out;
    }

    static constexpr const char* kBucket = "bkt";
    storage::MemoryEngine whole_;
    StateMachine sm_{whole_};
    uint64_t index_ = 0;
    std::vector<std::unique_ptr<storage::MemoryEngine>> engines_;
    std::vector<RoutedShard> table_;
};

TEST_F(RoutedEngineTest, ListingsAcrossShardsEqualOneEngine) {
    const uint64_t seed = seed_from_env();
    Random rng(seed);
    Command cb;
    cb.mutable_create_bucket()->set_bucket(kBucket);
    apply(cb);
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) {
        const int dir = static_cast<int>(rng.uniform(60));
        std::string key = dir == 0 ? fmt::format("top-{}", i)
                                   : fmt::format("d{}/{}/k{:05}", dir, rng.uniform(4), i);
        put(key);
        keys.push_back(key);
    }
    // Cut points: whole root directories' hash prefixes and a pk in the
    // middle of a directory (a split key that is not a directory boundary).
    std::vector<std::string> bounds;
    for (int i = 0; i < 6; ++i)
        bounds.push_back(meta::placement_key(kBucket, keys[rng.uniform(keys.size())]));
    bounds.push_back(meta::hash_prefix(kBucket, "d7/"));
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    cut(bounds);
    RoutedEngine routed(table_);
    ASSERT_EQ(routed.shards().size(), bounds.size() + 1);

    for (const auto& [prefix, delim] : std::vector<std::pair<std::string, std::string>>{
             {"", ""}, {"", "/"}, {"d7/", ""}, {"d7/", "/"}, {"d1", "/"}, {"top", ""}}) {
        for (uint32_t page : {1u, 7u, 1000u}) {
            auto want = list_all(whole_, prefix, delim, page);
            auto got = list_all(routed, prefix, delim, page);
            EXPECT_EQ(got, want) << "prefix '" << prefix << "' delimiter '" << delim << "' page "
                                 << page;
        }
    }
    EXPECT_EQ(list_all(routed, "", "", 1000).size(), keys.size());
    for (size_t i = 0; i < keys.size(); i += 37) {
        auto rec = Reader(routed).object(kBucket, keys[i]);
        ASSERT_TRUE(rec.is_ok()) << rec.status().to_string();
        EXPECT_TRUE(rec->has_value()) << keys[i];
    }
    auto b = Reader(routed).bucket(kBucket);
    ASSERT_TRUE(b.is_ok());
    EXPECT_TRUE(b->has_value());
}

TEST_F(RoutedEngineTest, AStaleTableIsRefusedNotServed) {
    Command cb;
    cb.mutable_create_bucket()->set_bucket(kBucket);
    apply(cb);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) {
        keys.push_back(fmt::format("d{}/k", i));
        put(keys.back());
    }
    std::vector<std::string> pks;
    for (auto& k : keys) pks.push_back(meta::placement_key(kBucket, k));
    std::sort(pks.begin(), pks.end());
    const std::string split = pks[20];
    cut({split});
    // A table from before the split: shard 1 owns everything.
    RoutedEngine stale({{1, "", "", table_[0].engine}});
    size_t refused = 0, served = 0;
    for (auto& k : keys) {
        auto rec = Reader(stale).object(kBucket, k);
        if (meta::placement_key(kBucket, k) >= split) {
            ASSERT_FALSE(rec.is_ok()) << k;
            EXPECT_EQ(rec.status().code(), Errc::stale_epoch);
            ++refused;
        } else {
            ASSERT_TRUE(rec.is_ok() && rec->has_value()) << k;
            ++served;
        }
    }
    EXPECT_EQ(refused, 20u);
    EXPECT_EQ(served, 20u);
    auto page = Reader(stale).list_objects(kBucket, "", "", "", 1000);
    ASSERT_FALSE(page.is_ok());
    EXPECT_EQ(page.status().code(), Errc::stale_epoch);
    // The current table serves all of them.
    RoutedEngine current(table_);
    auto all = Reader(current).list_objects(kBucket, "", "", "", 1000);
    ASSERT_TRUE(all.is_ok()) << all.status().to_string();
    EXPECT_EQ(all->objects.size(), keys.size());
}

// A directory read that fails (here: a table from before a split) fails the
// listing, also when the stream has re-seeked since (each common prefix of a
// delimiter makes it seek): it is never skipped as an emptied directory.
TEST_F(RoutedEngineTest, AFailedDirectoryReadFailsTheListingNotSkipsTheDirectory) {
    Command cb;
    cb.mutable_create_bucket()->set_bucket(kBucket);
    apply(cb);
    for (const char* k : {"a-1", "a-2", "m-1", "m-2", "z-1"}) put(k);
    std::vector<std::string> pks;
    for (int i = 0; i < 40; ++i) {
        const std::string key = fmt::format("d{}/k", i);
        put(key);
        pks.push_back(meta::placement_key(kBucket, key));
    }
    // Cut above the bucket root (its keys and markers stay readable) and
    // below some directories.
    std::sort(pks.begin(), pks.end());
    auto above = std::upper_bound(pks.begin(), pks.end(), meta::dir_markers_end(kBucket));
    ASSERT_NE(above, pks.end()) << "no directory hashes above the bucket root";
    cut({*above});
    RoutedEngine stale({{1, "", "", table_[0].engine}});
    for (const char* delim : {"", "-", "/"}) {
        for (uint32_t page_size : {2u, 1000u}) {
            std::string after;
            Status failed;
            for (int pages = 0; pages < 1000 && failed.is_ok(); ++pages) {
                auto page = Reader(stale).list_objects(kBucket, "", delim, after, page_size);
                if (!page.is_ok()) {
                    failed = page.status();
                    break;
                }
                if (!page->is_truncated) break;
                after = page->next_start_after;
            }
            EXPECT_EQ(failed.code(), Errc::stale_epoch)
                << "delimiter '" << delim << "' page " << page_size
                << ": the listing ended without the directories above the cut";
        }
    }
}

}  // namespace
}  // namespace cleave::shard
