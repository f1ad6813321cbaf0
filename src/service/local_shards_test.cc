#include "service/local_shards.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include "common/hash.h"
#include "common/random.h"
#include "meta/keyspace.h"
#include "service/local_object_service.h"

namespace cleave::service {
namespace {

// The object service of a one-node store over real RocksDB shards that are
// split while it serves, and reopened.
class LocalShardsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("cleave-shards-" + to_hex(os_random_bytes(6)));
        auto chunks = blob::ChunkStore::open((dir_ / "chunks").string());
        ASSERT_TRUE(chunks.is_ok()) << chunks.status().to_string();
        chunks_ = std::move(*chunks);
        open();
    }
    void open(double split_writes_per_s = 0) {
        LocalShardsOptions o;
        o.data_dir = dir_.string();
        o.engine.kind = "rocksdb";
        o.split_writes_per_s = split_writes_per_s;
        o.split_check_ms = 20;
        auto s = LocalShards::open(o);
        ASSERT_TRUE(s.is_ok()) << s.status().to_string();
        shards_ = std::move(*s);
        LocalObjectServiceOptions so;
        so.gc_interval_ms = 0;
        svc_ = std::make_unique<LocalObjectService>(*shards_, *chunks_, clock_, so);
    }
    void close() {
        svc_.reset();
        shards_.reset();
    }
    void TearDown() override {
        close();
        chunks_.reset();
        std::filesystem::remove_all(dir_);
    }

    Status put(const std::string& bucket, const std::string& key) {
        CLEAVE_ASSIGN_OR_RETURN(auto w, svc_->begin_put(bucket, key));
        CLEAVE_RETURN_IF_ERROR(w->write("data of " + key));
        CLEAVE_RETURN_IF_ERROR(w->finish().status());
        return svc_->commit_put(std::move(w), bucket, key, ObjectHeaders{}, {}).status();
    }
    std::string get(const std::string& bucket, const std::string& key) {
        auto r = svc_->get_object(bucket, key, std::nullopt);
        if (!r.is_ok()) return "<" + r.status().to_string() + ">";
        std::string out;
        while (true) {
            auto piece = (*r)->next();
            if (!piece.is_ok() || piece->empty()) break;
            out += *piece;
        }
        return out;
    }
    std::vector<std::string> list(const std::string& bucket, const std::string& delimiter,
                                  uint32_t page) {
        std::vector<std::string> out;
        ListQuery q;
        q.delimiter = delimiter;
        q.max_keys = page;
        while (true) {
            auto r = svc_->list_objects(bucket, q);
            EXPECT_TRUE(r.is_ok()) << r.status().to_string();
            if (!r.is_ok()) return out;
            std::vector<std::string> items;
            for (auto& o : r->objects) items.push_back(o.key);
            for (auto& p : r->common_prefixes) items.push_back(p);
            std::sort(items.begin(), items.end());
            out.insert(out.end(), items.begin(), items.end());
            if (!r->is_truncated) return out;
            q.start_after = r->next_start_after;
        }
    }

    std::filesystem::path dir_;
    ManualClock clock_{SystemClock::instance().now_unix_ms()};
    std::unique_ptr<blob::ChunkStore> chunks_;
    std::unique_ptr<LocalShards> shards_;
    std::unique_ptr<LocalObjectService> svc_;
};

TEST_F(LocalShardsTest, SplitsKeepEveryObjectAndSurviveARestart) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    std::set<std::string> keys;
    for (int i = 0; i < 400; ++i) {
        const std::string key =
            i % 9 ? fmt::format("dir{}/k{:04}", i % 40, i) : fmt::format("top{}", i);
        ASSERT_TRUE(put("b", key).is_ok()) << key;
        keys.insert(key);
        // Split whichever shard holds the most, every 50 writes, between pages.
        if (i % 50 == 49) {
            auto all = shards_->describe();
            ASSERT_TRUE(all.is_ok());
            auto big = std::max_element(all->begin(), all->end(), [](auto& a, auto& b) {
                return a.size_bytes < b.size_bytes;
            });
            auto child = shards_->split(big->range.id(), std::nullopt);
            ASSERT_TRUE(child.is_ok()) << child.status().to_string();
        }
    }
    ASSERT_EQ(shards_->table().size(), 9u);
    const std::vector<std::string> want(keys.begin(), keys.end());
    for (uint32_t page : {1u, 13u, 1000u}) EXPECT_EQ(list("b", "", page), want) << page;
    EXPECT_EQ(list("b", "/", 7).size(), 40u + 45u);  // 40 directories and 45 top-level keys
    for (const auto& k : keys) ASSERT_EQ(get("b", k), "data of " + k);

    // Every shard holds exactly the keys of its range.
    size_t held = 0;
    for (const ShardRoute& r : shards_->table()) {
        for (const auto& k : keys) {
            const std::string pk = meta::placement_key("b", k);
            const bool mine = pk >= r.start && (r.end.empty() || pk < r.end);
            auto rec = r.engine->get(std::string(1, 'o') + pk);
            ASSERT_TRUE(rec.is_ok());
            EXPECT_EQ(rec->has_value(), mine) << k << " on shard " << r.id;
            held += rec->has_value();
        }
    }
    EXPECT_EQ(held, keys.size());

    close();
    open();
    EXPECT_EQ(shards_->table().size(), 9u);
    EXPECT_EQ(list("b", "", 100), want);
    for (const auto& k : keys) ASSERT_EQ(get("b", k), "data of " + k);
    EXPECT_EQ(svc_->delete_bucket("b").code(), Errc::not_empty);
    for (const auto& k : keys) ASSERT_TRUE(svc_->delete_object("b", k).is_ok());
    EXPECT_TRUE(svc_->delete_bucket("b").is_ok());
    EXPECT_EQ(svc_->head_bucket("b").status().code(), Errc::no_such_bucket);
}

TEST_F(LocalShardsTest, AShardWritingFasterThanTheThresholdSplitsByItself) {
    close();
    open(/*split_writes_per_s=*/20);
    ASSERT_TRUE(svc_->create_bucket("hot").is_ok());
    // Writes as fast as they go until the split thread (checking every 20
    // ms) has seen more than 20 writes/s on the one shard and split it; a
    // deadline, not a sleep, bounds the wait.
    std::vector<std::string> keys;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (shards_->table().size() < 2) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no split by load";
        const std::string key = fmt::format("d{}/k{:05}", keys.size() % 7, keys.size());
        ASSERT_TRUE(put("hot", key).is_ok());
        keys.push_back(key);
    }
    for (const auto& k : keys) EXPECT_EQ(get("hot", k), "data of " + k);
    std::vector<std::string> want = keys;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(list("hot", "", 100), want);
}

TEST_F(LocalShardsTest, AShardMissingABucketMirrorGetsItOnItsFirstWrite) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put("b", fmt::format("d{}/x", i)).is_ok());
    auto child = shards_->split(1, std::nullopt);
    ASSERT_TRUE(child.is_ok()) << child.status().to_string();
    // As if the bucket had been created while the split was applied: only
    // the authority (the first shard) has it, the child has no mirror.
    shard::Command create;
    create.mutable_create_bucket()->set_bucket("late");
    auto created = shards_->table().front().replica->propose(create);
    ASSERT_TRUE(created.is_ok() && created->status.is_ok());
    ShardRoute upper = shards_->table().back();
    // A key the child owns.
    std::string key;
    for (int i = 0; key.empty(); ++i) {
        std::string k = fmt::format("r{}/obj", i);
        if (meta::placement_key("late", k) >= upper.start) key = k;
    }
    ASSERT_TRUE(put("late", key).is_ok());
    EXPECT_EQ(get("late", key), "data of " + key);
}

// The table as it was before a split, until the service refreshes it: what
// a gateway holds between a split and its next refresh.
class FrozenRouting final : public ShardRouting {
  public:
    explicit FrozenRouting(ShardRouting& real) : real_(real), frozen_(real.table()) {}
    std::vector<ShardRoute> table() override {
        std::lock_guard lock(mu_);
        return frozen_ ? *frozen_ : real_.table();
    }
    void refresh() override {
        std::lock_guard lock(mu_);
        frozen_.reset();
        real_.refresh();
    }

  private:
    ShardRouting& real_;
    std::mutex mu_;
    std::optional<std::vector<ShardRoute>> frozen_;
};

TEST_F(LocalShardsTest, DeletingABucketChecksTheHalfASplitMovedAway) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put("b", fmt::format("d{}/x", i)).is_ok());
    FrozenRouting frozen(*shards_);  // one shard, owning every key
    auto child = shards_->split(1, std::nullopt);
    ASSERT_TRUE(child.is_ok()) << child.status().to_string();
    // Only the moved half still holds objects.
    const std::string lower_end = shards_->table().front().end;
    std::vector<std::string> kept;
    for (int i = 0; i < 20; ++i) {
        const std::string key = fmt::format("d{}/x", i);
        if (meta::placement_key("b", key) < lower_end) {
            ASSERT_TRUE(svc_->delete_object("b", key).is_ok());
        } else {
            kept.push_back(key);
        }
    }
    ASSERT_FALSE(kept.empty());
    // A service that still routes by the table of before the split.
    LocalObjectServiceOptions so;
    so.gc_interval_ms = 0;
    LocalObjectService stale(frozen, *chunks_, clock_, so);
    EXPECT_EQ(stale.delete_bucket("b").code(), Errc::not_empty);
    EXPECT_TRUE(svc_->head_bucket("b").is_ok());
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(list("b", "", 100), kept);
    for (const auto& k : kept) EXPECT_EQ(get("b", k), "data of " + k);
    ASSERT_TRUE(put("b", "d0/again").is_ok());
}

TEST_F(LocalShardsTest, DeletingABucketFindsObjectsWhoseDirectoryMarkerIsOnAnotherShard) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(put("b", fmt::format("d{}/x", i)).is_ok());
    ASSERT_TRUE(shards_->split(1, std::nullopt).is_ok());
    // Keep only the objects of the shard that does not hold the bucket
    // root, where every directory marker is.
    const std::string root_pk = meta::placement_key("b", "top");
    const std::string cut = shards_->table().back().start;
    const bool root_upper = root_pk >= cut;
    std::vector<std::string> kept;
    for (int i = 0; i < 40; ++i) {
        const std::string key = fmt::format("d{}/x", i);
        if ((meta::placement_key("b", key) >= cut) == root_upper) {
            ASSERT_TRUE(svc_->delete_object("b", key).is_ok());
        } else {
            kept.push_back(key);
        }
    }
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(svc_->delete_bucket("b").code(), Errc::not_empty);
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(list("b", "", 100), kept);
    for (const auto& k : kept) ASSERT_TRUE(svc_->delete_object("b", k).is_ok());
    EXPECT_TRUE(svc_->delete_bucket("b").is_ok());
}

TEST_F(LocalShardsTest, AWriteRacingABucketDeleteDoesNotBringTheBucketBack) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put("b", fmt::format("d{}/x", i)).is_ok());
    ASSERT_TRUE(shards_->split(1, std::nullopt).is_ok());
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(svc_->delete_object("b", fmt::format("d{}/x", i)).is_ok());
    // A delete has removed the child's mirror and not yet the authority's
    // record; a write to the child's half now finds no mirror there, and
    // must not make it again from the record the delete is about to remove.
    ShardRoute upper = shards_->table().back();
    shard::Command del;
    del.mutable_delete_bucket()->set_bucket("b");
    auto removed = upper.replica->propose(del);
    ASSERT_TRUE(removed.is_ok() && removed->status.is_ok());
    std::string key;
    for (int i = 0; key.empty(); ++i) {
        std::string k = fmt::format("r{}/obj", i);
        if (meta::placement_key("b", k) >= upper.start) key = k;
    }
    EXPECT_EQ(put("b", key).code(), Errc::no_such_bucket);
    ASSERT_TRUE(svc_->delete_bucket("b").is_ok());
    EXPECT_EQ(svc_->head_bucket("b").status().code(), Errc::no_such_bucket);
    // A new bucket of the same name starts empty and takes writes everywhere.
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    EXPECT_TRUE(list("b", "", 100).empty());
    ASSERT_TRUE(put("b", key).is_ok());
    ASSERT_TRUE(put("b", "d0/x").is_ok());
}

TEST_F(LocalShardsTest, AListingCrossesASplitInsideTheDirectoryMarkers) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    std::vector<std::string> keys;
    for (int i = 0; i < 10; ++i) keys.push_back(fmt::format("d{}/x", i));
    for (int i = 0; i < 3; ++i) keys.push_back(fmt::format("top{}", i));
    for (const auto& k : keys) ASSERT_TRUE(put("b", k).is_ok());
    // Cut the bucket root's shard between two markers.
    const std::string cut = meta::dir_marker_key("b", "d5/");
    uint64_t owner = 0;
    for (const ShardRoute& r : shards_->table())
        if (cut >= r.start && (r.end.empty() || cut < r.end)) owner = r.id;
    ASSERT_TRUE(shards_->split(owner, cut).is_ok());
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(list("b", "", 1000), keys);
    EXPECT_EQ(list("b", "", 3), keys);
    EXPECT_EQ(list("b", "/", 1000).size(), 13u);
}

TEST_F(LocalShardsTest, BadSplitsAreRefusedWithAReason) {
    ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    EXPECT_EQ(shards_->split(7, std::nullopt).status().code(), Errc::invalid_argument);
    auto too_small = shards_->split(1, std::nullopt);
    EXPECT_EQ(too_small.status().code(), Errc::invalid_argument);
    EXPECT_NE(too_small.status().message().find("too few objects"), std::string::npos);
    ASSERT_TRUE(put("b", "a/1").is_ok());
    ASSERT_TRUE(put("b", "b/1").is_ok());
    EXPECT_EQ(shards_->split(1, std::string("")).status().code(), Errc::invalid_argument);
    ASSERT_TRUE(shards_->split(1, std::nullopt).is_ok());
    EXPECT_EQ(shards_->table().size(), 2u);
}

}  // namespace
}  // namespace cleave::service
