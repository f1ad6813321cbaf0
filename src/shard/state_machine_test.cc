#include "shard/state_machine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>

#include "common/hash.h"
#include "common/random.h"
#include "shard/local_replica.h"
#include "shard/reads.h"
#include "storage/memory/memory_engine.h"

namespace cleave::shard {
namespace {

Command create_bucket(const std::string& b) {
    Command c;
    c.set_time_ms(1000);
    c.mutable_create_bucket()->set_bucket(b);
    return c;
}

Command put(const std::string& b, const std::string& k, const std::string& data,
            bool if_none_match = false) {
    Command c;
    c.set_time_ms(2000);
    auto* p = c.mutable_put_object();
    p->set_bucket(b);
    p->set_key(k);
    p->mutable_record()->set_etag(to_hex(md5(data)));
    p->mutable_record()->mutable_body()->set_size(data.size());
    p->mutable_record()->mutable_body()->set_inline_data(data);
    p->mutable_conditions()->set_if_none_match_star(if_none_match);
    return c;
}

Command marker(const std::string& b, const std::string& root) {
    Command c;
    c.mutable_ensure_dir_marker()->set_bucket(b);
    c.mutable_ensure_dir_marker()->set_root(root);
    return c;
}

Command del(const std::string& b, const std::string& k) {
    Command c;
    c.mutable_delete_object()->set_bucket(b);
    c.mutable_delete_object()->set_key(k);
    return c;
}

class StateMachineTest : public ::testing::Test {
  protected:
    Status apply(const Command& c) {
        auto r = sm_.apply(++index_, c);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return r.is_ok() ? r->status : r.status();
    }
    // Puts an object the way the service does: marker first.
    void put_key(const std::string& b, const std::string& k) {
        std::string root(meta_root(k));
        if (!root.empty()) {
            ASSERT_TRUE(apply(marker(b, root)).is_ok());
        }
        ASSERT_TRUE(apply(put(b, k, "v:" + k)).is_ok());
    }
    static std::string meta_root(const std::string& k) {
        auto p = k.find('/');
        return p == std::string::npos ? "" : k.substr(0, p + 1);
    }
    // Every key of a listing, page by page.
    std::vector<std::string> list_all(const std::string& b, const std::string& prefix,
                                      const std::string& delim, uint32_t page_size) {
        std::vector<std::string> out;
        std::string after;
        for (int pages = 0; pages < 100000; ++pages) {
            auto page = Reader(engine_).list_objects(b, prefix, delim, after, page_size);
            EXPECT_TRUE(page.is_ok());
            // Merge objects and prefixes in order, as S3 clients see them.
            std::vector<std::string> items;
            for (auto& o : page->objects) items.push_back(o.key);
            for (auto& p : page->common_prefixes) items.push_back(p);
            std::sort(items.begin(), items.end());
            EXPECT_LE(items.size(), page_size);
            out.insert(out.end(), items.begin(), items.end());
            if (!page->is_truncated) break;
            EXPECT_EQ(page->next_start_after, items.back());
            after = page->next_start_after;
        }
        return out;
    }

    storage::MemoryEngine engine_;
    StateMachine sm_{engine_};
    uint64_t index_ = 0;
};

TEST_F(StateMachineTest, BucketLifecycle) {
    EXPECT_TRUE(apply(create_bucket("b")).is_ok());
    EXPECT_EQ(apply(create_bucket("b")).code(), Errc::already_exists);
    put_key("b", "dir/x");
    Command db;
    db.mutable_delete_bucket()->set_bucket("b");
    EXPECT_EQ(apply(db).code(), Errc::not_empty);
    EXPECT_TRUE(apply(del("b", "dir/x")).is_ok());
    // The directory marker remains but the directory is empty: deletable.
    EXPECT_TRUE(apply(db).is_ok());
    EXPECT_EQ(apply(db).code(), Errc::no_such_bucket);
    EXPECT_EQ(apply(put("b", "k", "v")).code(), Errc::no_such_bucket);
    EXPECT_EQ(sm_.applied_index(), index_);
}

TEST_F(StateMachineTest, ADeleteBucketForARangeTheShardNoLongerHasIsStale) {
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    // This shard owns every key (no range record); the sender believes it
    // ends at "m": its emptiness check would miss the keys above.
    Command db;
    db.mutable_delete_bucket()->set_bucket("b");
    db.mutable_delete_bucket()->mutable_expected_range()->set_end("m");
    EXPECT_EQ(apply(db).code(), Errc::stale_epoch);
    auto rec = Reader(engine_).bucket("b");
    ASSERT_TRUE(rec.is_ok());
    EXPECT_TRUE(rec->has_value()) << "a stale delete removed the bucket";
    db.mutable_delete_bucket()->mutable_expected_range()->set_end("");
    EXPECT_TRUE(apply(db).is_ok());
}

TEST_F(StateMachineTest, AMirrorIsNotMadeAgainForAnIncarnationItDeleted) {
    Command mirror = create_bucket("b");
    mirror.mutable_create_bucket()->set_incarnation(5);
    ASSERT_TRUE(apply(mirror).is_ok());
    ASSERT_TRUE(apply(marker("b", "dir/")).is_ok());
    Command db;
    db.mutable_delete_bucket()->set_bucket("b");
    ASSERT_TRUE(apply(db).is_ok());
    // The markers stay while another shard may still refuse the delete.
    EXPECT_TRUE(*Reader(engine_).dir_marker_exists("b", "dir/"));
    // A late repair of the deleted incarnation, or of an older one.
    EXPECT_EQ(apply(mirror).code(), Errc::no_such_bucket);
    mirror.mutable_create_bucket()->set_incarnation(4);
    EXPECT_EQ(apply(mirror).code(), Errc::no_such_bucket);
    // The delete's own undo, after a refusal elsewhere.
    Command undo = mirror;
    undo.mutable_create_bucket()->set_incarnation(5);
    undo.mutable_create_bucket()->set_undo_delete(true);
    EXPECT_TRUE(apply(undo).is_ok());
    EXPECT_TRUE(*Reader(engine_).dir_marker_exists("b", "dir/"));
    ASSERT_TRUE(apply(db).is_ok());
    // A newer creation of the name, which drops the old markers.
    mirror.mutable_create_bucket()->set_incarnation(9);
    EXPECT_TRUE(apply(mirror).is_ok());
    EXPECT_FALSE(*Reader(engine_).dir_marker_exists("b", "dir/"));
    auto rec = Reader(engine_).bucket("b");
    ASSERT_TRUE(rec.is_ok() && rec->has_value());
    EXPECT_EQ((*rec)->incarnation(), 9u);
    // The authority numbers a creation by its log index.
    ASSERT_TRUE(apply(db).is_ok());
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    rec = Reader(engine_).bucket("b");
    ASSERT_TRUE(rec.is_ok() && rec->has_value());
    EXPECT_EQ((*rec)->incarnation(), index_);
}

TEST_F(StateMachineTest, ConditionalCreateOnlyOnce) {
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    EXPECT_TRUE(apply(put("b", "k", "one", true)).is_ok());
    EXPECT_EQ(apply(put("b", "k", "two", true)).code(), Errc::precondition_failed);
    auto rec = Reader(engine_).object("b", "k");
    ASSERT_TRUE(rec.is_ok() && rec->has_value());
    EXPECT_EQ((*rec)->body().inline_data(), "one");
}

TEST_F(StateMachineTest, AppliedIndexSurvivesAndOrderIsChecked) {
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    StateMachine again(engine_);
    auto idx = again.load_applied_index();
    ASSERT_TRUE(idx.is_ok());
    EXPECT_EQ(*idx, 1u);
}

TEST_F(StateMachineTest, ListingMatchesOracleAcrossDirectories) {
    uint64_t seed = std::getenv("CLEAVE_SEED")
                        ? std::strtoull(std::getenv("CLEAVE_SEED"), nullptr, 10)
                        : 0xC1EAFEULL;
    std::cout << "seed " << seed << " (replay with CLEAVE_SEED=" << seed << ")\n";
    Random rng(seed);
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    ASSERT_TRUE(apply(create_bucket("other")).is_ok());
    std::set<std::string> oracle;
    const char* parts[] = {"a", "a/", "b/",  "ab",       "a/b/", "z",
                           "/", "..", "%2F", "\xc3\xa9", "\x01"};
    for (int i = 0; i < 400; ++i) {
        std::string k;
        int n = static_cast<int>(rng.range(1, 4));
        for (int j = 0; j < n; ++j) k += parts[rng.uniform(std::size(parts))];
        put_key("b", k);
        oracle.insert(k);
        if (rng.chance(1, 5)) put_key("other", k);
    }
    // Delete some, including every key of one directory.
    for (auto it = oracle.begin(); it != oracle.end();) {
        if (it->rfind("b/", 0) == 0 || rng.chance(1, 10)) {
            ASSERT_TRUE(apply(del("b", *it)).is_ok());
            it = oracle.erase(it);
        } else {
            ++it;
        }
    }
    std::vector<std::string> want(oracle.begin(), oracle.end());
    for (uint32_t page : {1u, 7u, 1000u}) {
        EXPECT_EQ(list_all("b", "", "", page), want) << "page size " << page;
    }
    // Prefix and delimiter against the oracle.
    for (std::string prefix : {"", "a", "a/", "a/b", "ab", "z", "/", "q"}) {
        for (std::string delim : {"", "/", "b"}) {
            std::vector<std::string> expect;
            for (const auto& k : oracle) {
                if (k.rfind(prefix, 0) != 0) continue;
                if (!delim.empty()) {
                    auto pos = k.find(delim, prefix.size());
                    if (pos != std::string::npos) {
                        std::string cp = k.substr(0, pos + delim.size());
                        if (expect.empty() || expect.back() != cp) expect.push_back(cp);
                        continue;
                    }
                }
                expect.push_back(k);
            }
            std::sort(expect.begin(), expect.end());
            expect.erase(std::unique(expect.begin(), expect.end()), expect.end());
            for (uint32_t page : {2u, 1000u}) {
                EXPECT_EQ(list_all("b", prefix, delim, page), expect)
                    << "prefix '" << prefix << "' delimiter '" << delim << "' page " << page;
            }
        }
    }
}

TEST_F(StateMachineTest, MultipartCompleteBuildsS3Etag) {
    ASSERT_TRUE(apply(create_bucket("b")).is_ok());
    const std::string id(kUploadIdLength, 'a');
    Command cu;
    cu.mutable_create_upload()->set_bucket("b");
    cu.mutable_create_upload()->set_key("big");
    cu.mutable_create_upload()->mutable_record()->set_upload_id(id);
    ASSERT_TRUE(apply(cu).is_ok());
    std::vector<std::string> etags;
    for (uint32_t n = 1; n <= 3; ++n) {
        Command pp;
        auto* p = pp.mutable_put_part();
        p->set_bucket("b");
        p->set_key("big");
        p->set_upload_id(id);
        std::string etag = to_hex(md5(std::to_string(n)));
        p->mutable_record()->set_part_number(n);
        p->mutable_record()->set_etag(etag);
        p->mutable_record()->mutable_body()->set_size(n < 3 ? 100 : 1);
        auto* chunk = p->mutable_record()->mutable_body()->add_chunks();
        chunk->set_id(sha256(std::to_string(n)));
        chunk->set_size(n < 3 ? 100 : 1);
        etags.push_back(etag);
        ASSERT_TRUE(apply(pp).is_ok());
    }
    auto complete = [&](std::vector<std::pair<uint32_t, std::string>> parts, uint64_t min) {
        Command c;
        auto* cc = c.mutable_complete_upload();
        cc->set_bucket("b");
        cc->set_key("big");
        cc->set_upload_id(id);
        cc->set_min_part_size(min);
        for (auto& [n, e] : parts) {
            auto* p = cc->add_parts();
            p->set_part_number(n);
            p->set_etag(e);
        }
        return c;
    };
    EXPECT_EQ(apply(complete({{2, etags[1]}, {1, etags[0]}}, 0)).code(), Errc::invalid_part_order);
    EXPECT_EQ(apply(complete({{1, etags[1]}}, 0)).code(), Errc::invalid_part);
    EXPECT_EQ(apply(complete({{1, etags[0]}, {2, etags[1]}, {3, etags[2]}}, 101)).code(),
              Errc::entity_too_small);
    auto r = sm_.apply(++index_, complete({{1, etags[0]}, {2, etags[1]}, {3, etags[2]}}, 100));
    ASSERT_TRUE(r.is_ok() && r->status.is_ok());
    std::string concat;
    for (auto& e : etags) {
        std::string raw;
        ASSERT_TRUE(from_hex(e, &raw));
        concat += raw;
    }
    EXPECT_EQ(r->object.etag(), to_hex(md5(concat)) + "-3");
    EXPECT_EQ(r->object.body().size(), 201u);
    EXPECT_EQ(r->object.body().chunks_size(), 3);
    // The upload and its parts are gone.
    auto up = Reader(engine_).upload("b", "big", id);
    ASSERT_TRUE(up.is_ok());
    EXPECT_FALSE(up->has_value());
    auto parts = Reader(engine_).parts("b", "big", id, 0, 100);
    ASSERT_TRUE(parts.is_ok());
    EXPECT_TRUE(parts->empty());
}

// Same commands, two engines: identical contents (determinism).
TEST(StateMachineDeterminism, SameLogSameState) {
    storage::MemoryEngine e1, e2;
    StateMachine a(e1), b(e2);
    std::vector<Command> log = {create_bucket("b"),         marker("b", "x/"), put("b", "x/1", "1"),
                                put("b", "x/1", "2", true), del("b", "nope"),  put("b", "y", "3")};
    for (size_t i = 0; i < log.size(); ++i) {
        ASSERT_TRUE(a.apply(i + 1, log[i]).is_ok());
        ASSERT_TRUE(b.apply(i + 1, log[i]).is_ok());
    }
    auto dump = [](storage::Engine& e) {
        std::vector<std::pair<std::string, std::string>> out;
        auto it = e.iterate({});
        for (it->seek_to_first(); it->valid(); it->next()) out.emplace_back(it->key(), it->value());
        return out;
    };
    EXPECT_EQ(dump(e1), dump(e2));
    EXPECT_FALSE(dump(e1).empty());
}

// Acknowledged proposals survive a power loss: the log is synced before the
// answer, the applied state is not, and recovery replays the difference.
TEST(LocalReplica, AcknowledgedCommandsSurvivePowerLoss) {
    auto disk = std::make_shared<storage::MemoryDisk>();
    {
        storage::MemoryEngine engine(disk);
        auto replica = LocalReplica::open(engine);
        ASSERT_TRUE(replica.is_ok());
        ASSERT_TRUE((*replica)->propose(create_bucket("b")).is_ok());
        for (int i = 0; i < 50; ++i) {
            auto r = (*replica)->propose(put("b", "k" + std::to_string(i), std::to_string(i)));
            ASSERT_TRUE(r.is_ok() && r->status.is_ok());
        }
        (*replica)->stop();
    }
    disk->drop_unsynced();
    storage::MemoryEngine engine(disk);
    auto replica = LocalReplica::open(engine);
    ASSERT_TRUE(replica.is_ok()) << replica.status().to_string();
    EXPECT_EQ((*replica)->applied_index(), 51u);
    for (int i = 0; i < 50; ++i) {
        auto rec = Reader(engine).object("b", "k" + std::to_string(i));
        ASSERT_TRUE(rec.is_ok() && rec->has_value()) << i;
        EXPECT_EQ((*rec)->body().inline_data(), std::to_string(i));
    }
}

TEST(LocalReplica, ConcurrentProposersAllAnswered) {
    storage::MemoryEngine engine;
    auto replica =
        LocalReplica::open(engine, {.max_group_commands = 8, .compact_every_entries = 16});
    ASSERT_TRUE(replica.is_ok());
    ASSERT_TRUE((*replica)->propose(create_bucket("b")).is_ok());
    std::vector<std::thread> threads;
    std::atomic<int> created{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                auto r = (*replica)->propose(put("b", "same", std::to_string(t), true));
                if (r.is_ok() && r->status.is_ok()) ++created;
                ASSERT_TRUE((*replica)->propose(put("b", fmt::format("{}-{}", t, i), "x")).is_ok());
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(created.load(), 1);  // exactly one conditional create won
    EXPECT_EQ((*replica)->applied_index(), 1u + 8 * 25 * 2);
    auto page = Reader(engine).list_objects("b", "", "", "", 10000);
    ASSERT_TRUE(page.is_ok());
    EXPECT_EQ(page->objects.size(), 8u * 25 + 1);
}

}  // namespace
}  // namespace cleave::shard
