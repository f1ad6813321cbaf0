#include "blob/chunk_store.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "blob/fault_injection_fs.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/random.h"

namespace cleave::blob {
namespace {

namespace fs = std::filesystem;

class ChunkStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cleave-blob-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        store_ = open_store();
    }
    void TearDown() override {
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::unique_ptr<ChunkStore> open_store(ChunkStoreOptions o = {}) {
        auto r = ChunkStore::open(dir_, o);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return r.is_ok() ? std::move(r).value() : nullptr;
    }
    static std::string bytes(size_t n, uint64_t seed) {
        Random rng(seed);
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng.next_u64());
        return s;
    }
    static int64_t now_ms() { return SystemClock::instance().now_unix_ms(); }
    std::vector<std::string> temp_files() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_ + "/chunks/tmp")) out.push_back(e.path());
        return out;
    }

    std::string dir_;
    std::unique_ptr<ChunkStore> store_;
};

TEST_F(ChunkStoreTest, PutGetRoundTripAndLayout) {
    const std::string data = bytes(100000, 1);
    auto id = store_->put(data);
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    EXPECT_EQ(id->bytes(), sha256(data));
    EXPECT_EQ(id->hex(), to_hex(sha256(data)));
    // Fanned out by the first byte.
    const std::string want_path = dir_ + "/chunks/" + id->hex().substr(0, 2) + "/" + id->hex();
    EXPECT_EQ(store_->path_of(*id), want_path);
    EXPECT_TRUE(fs::exists(want_path));
    auto got = store_->get(*id);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(*got, data);
    EXPECT_EQ(*store_->contains(*id), true);
    EXPECT_EQ(*store_->size(*id), data.size());
    EXPECT_TRUE(temp_files().empty());
}

TEST_F(ChunkStoreTest, EmptyAndMaximumSizedChunks) {
    auto empty = store_->put("");
    ASSERT_TRUE(empty.is_ok());
    EXPECT_EQ(*store_->get(*empty), "");
    const std::string max = bytes(4 << 20, 2);
    auto id = store_->put(max);
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    EXPECT_EQ(*store_->get(*id), max);
    auto too_big = store_->put(bytes((4 << 20) + 1, 3));
    EXPECT_EQ(too_big.status().code(), Errc::too_large);
}

TEST_F(ChunkStoreTest, AbsentAndMalformedIds) {
    const ChunkId absent = ChunkId::of("never stored");
    EXPECT_EQ(store_->get(absent).status().code(), Errc::not_found);
    EXPECT_EQ(*store_->contains(absent), false);
    EXPECT_EQ(store_->size(absent).status().code(), Errc::not_found);
    EXPECT_TRUE(store_->remove(absent).is_ok());  // idempotent

    const ChunkId bad = ChunkId::from_bytes("short");
    EXPECT_FALSE(bad.valid());
    EXPECT_EQ(store_->get(bad).status().code(), Errc::invalid_argument);
    EXPECT_FALSE(ChunkId::from_hex("zz").valid());
    EXPECT_FALSE(ChunkId::from_hex(std::string(64, 'A')).valid());  // uppercase is not ours
    EXPECT_EQ(ChunkId::from_hex(absent.hex()), absent);
    EXPECT_EQ(chunk_id_from_bytes(chunk_id_bytes(absent)), absent);
}

TEST_F(ChunkStoreTest, PutIsIdempotent) {
    const std::string data = bytes(5000, 4);
    auto a = store_->put(data);
    ASSERT_TRUE(a.is_ok());
    const int64_t t1 = fs::last_write_time(store_->path_of(*a)).time_since_epoch().count();
    auto b = store_->put(data);
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(*a, *b);
    auto all = store_->list();
    ASSERT_TRUE(all.is_ok());
    EXPECT_EQ(all->size(), 1u);
    EXPECT_EQ(*store_->get(*a), data);
    EXPECT_GE(fs::last_write_time(store_->path_of(*a)).time_since_epoch().count(), t1);
    EXPECT_TRUE(temp_files().empty());
}

TEST_F(ChunkStoreTest, FlippedByteOnDiskIsCorruptionNeverTheBytes) {
    const std::string data = bytes(70000, 5);
    auto id = store_->put(data);
    ASSERT_TRUE(id.is_ok());
    const std::string path = store_->path_of(*id);
    {
        std::FILE* f = std::fopen(path.c_str(), "r+b");
        ASSERT_NE(f, nullptr);
        std::fseek(f, 1234, SEEK_SET);
        const int c = std::fgetc(f);
        std::fseek(f, 1234, SEEK_SET);
        std::fputc(c ^ 0x01, f);
        std::fclose(f);
    }
    auto got = store_->get(*id);
    ASSERT_FALSE(got.is_ok()) << "damaged chunk was served";
    EXPECT_EQ(got.status().code(), Errc::corruption);
    EXPECT_NE(got.status().message().find(id->hex()), std::string::npos)
        << "error does not name the chunk: " << got.status().message();

    // A truncated file too.
    fs::resize_file(path, 100);
    EXPECT_EQ(store_->get(*id).status().code(), Errc::corruption);

    // Putting the bytes again repairs the damaged copy.
    ASSERT_TRUE(store_->put(data).is_ok());
    auto repaired = store_->get(*id);
    ASSERT_TRUE(repaired.is_ok()) << repaired.status().to_string();
    EXPECT_EQ(*repaired, data);
}

TEST_F(ChunkStoreTest, PutExpectingRejectsWrongBytes) {
    const std::string data = bytes(1000, 6);
    const ChunkId id = ChunkId::of(data);
    EXPECT_EQ(store_->put_expecting(id, data + "x").code(), Errc::corruption);
    EXPECT_EQ(*store_->contains(id), false);
    ASSERT_TRUE(store_->put_expecting(id, data).is_ok());
    EXPECT_EQ(*store_->get(id), data);
}

TEST_F(ChunkStoreTest, ReopenSeesExistingChunks) {
    std::vector<std::pair<ChunkId, std::string>> put;
    for (int i = 0; i < 20; ++i) {
        std::string data = bytes(100 + i * 37, 100 + i);
        auto id = store_->put(data);
        ASSERT_TRUE(id.is_ok());
        put.emplace_back(*id, std::move(data));
    }
    store_.reset();
    store_ = open_store();
    ASSERT_NE(store_, nullptr);
    for (const auto& [id, data] : put) EXPECT_EQ(*store_->get(id), data);
    auto all = store_->list();
    ASSERT_TRUE(all.is_ok());
    std::set<ChunkId> listed;
    for (const auto& c : *all) {
        listed.insert(c.id);
        EXPECT_GT(c.mtime_ms, 0);
    }
    EXPECT_EQ(listed.size(), put.size());
    for (const auto& [id, data] : put) EXPECT_TRUE(listed.count(id)) << id.hex();
}

TEST_F(ChunkStoreTest, RemoveDeletesTheChunk) {
    auto id = store_->put("bye");
    ASSERT_TRUE(id.is_ok());
    ASSERT_TRUE(store_->remove(*id).is_ok());
    EXPECT_EQ(*store_->contains(*id), false);
    EXPECT_EQ(store_->get(*id).status().code(), Errc::not_found);
}

TEST_F(ChunkStoreTest, GarbageCollectionKeepsReferencedAndYoung) {
    auto keep = store_->put("referenced");
    auto drop = store_->put("unreferenced");
    ASSERT_TRUE(keep.is_ok() && drop.is_ok());
    auto is_ref = [&](const ChunkId& id) { return id == *keep; };
    const int64_t grace_ms = 60 * 60 * 1000;

    // Now: both are young; nothing goes.
    auto r = store_->collect_garbage(is_ref, grace_ms, now_ms());
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->chunks_removed, 0u);
    EXPECT_EQ(r->chunks_kept_young, 1u);
    EXPECT_TRUE(*store_->contains(*drop));

    // Two hours later: the unreferenced one goes, the referenced one stays.
    r = store_->collect_garbage(is_ref, grace_ms, now_ms() + 2 * grace_ms);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->chunks_seen, 2u);
    EXPECT_EQ(r->chunks_removed, 1u);
    EXPECT_EQ(r->bytes_removed, std::string("unreferenced").size());
    EXPECT_FALSE(*store_->contains(*drop));
    EXPECT_EQ(*store_->get(*keep), "referenced");
}

TEST_F(ChunkStoreTest, RePutRefreshesTheGracePeriod) {
    auto id = store_->put("dedup me");
    ASSERT_TRUE(id.is_ok());
    // Age the file by an hour, as if written long ago.
    const std::string path = store_->path_of(*id);
    fs::last_write_time(path, fs::last_write_time(path) - std::chrono::hours(2));
    const int64_t grace_ms = 60 * 60 * 1000;
    // A new upload of the same bytes, not yet committed (so not referenced).
    ASSERT_TRUE(store_->put("dedup me").is_ok());
    auto r = store_->collect_garbage([](const ChunkId&) { return false; }, grace_ms, now_ms());
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->chunks_removed, 0u);
    EXPECT_TRUE(*store_->contains(*id));
}

TEST_F(ChunkStoreTest, GarbageCollectionRemovesStaleTempFiles) {
    FaultInjectingFileSystem faulty(posix_file_system());
    store_.reset();
    store_ = open_store({.fs = &faulty});
    // A failed write leaves a torn temporary file (remove fails too).
    faulty.fail(FaultInjectingFileSystem::Op::write);
    faulty.fail(FaultInjectingFileSystem::Op::remove);
    auto r = store_->put(bytes(10000, 7));
    EXPECT_EQ(r.status().code(), Errc::io_error);
    ASSERT_EQ(temp_files().size(), 1u);
    // A stranger's file in tmp/ that is not ours is left alone.
    {
        std::FILE* f = std::fopen((dir_ + "/chunks/tmp/README").c_str(), "w");
        std::fclose(f);
    }

    const int64_t grace_ms = 10 * 60 * 1000;
    auto gc = store_->collect_garbage([](const ChunkId&) { return false; }, grace_ms, now_ms());
    ASSERT_TRUE(gc.is_ok());
    EXPECT_EQ(gc->temp_files_removed, 0u);  // could be a write in flight
    gc = store_->collect_garbage([](const ChunkId&) { return false; }, grace_ms,
                                 now_ms() + 2 * grace_ms);
    ASSERT_TRUE(gc.is_ok()) << gc.status().to_string();
    EXPECT_EQ(gc->temp_files_removed, 1u);
    ASSERT_EQ(temp_files().size(), 1u);
    EXPECT_EQ(fs::path(temp_files()[0]).filename(), "README");
}

TEST_F(ChunkStoreTest, FailedRenameOrSyncIsNeverAcknowledged) {
    FaultInjectingFileSystem faulty(posix_file_system());
    store_.reset();
    store_ = open_store({.fs = &faulty});
    const std::string data = bytes(3000, 8);

    faulty.fail(FaultInjectingFileSystem::Op::rename);
    auto r = store_->put(data);
    EXPECT_EQ(r.status().code(), Errc::io_error);
    EXPECT_FALSE(*store_->contains(ChunkId::of(data)));
    EXPECT_TRUE(temp_files().empty());  // cleaned up on the way out

    faulty.fail(FaultInjectingFileSystem::Op::write);
    EXPECT_EQ(store_->put(data).status().code(), Errc::io_error);
    EXPECT_FALSE(*store_->contains(ChunkId::of(data)));
    EXPECT_TRUE(temp_files().empty());

    const int syncs_before = faulty.calls(FaultInjectingFileSystem::Op::sync_dir);
    faulty.fail(FaultInjectingFileSystem::Op::sync_dir);
    EXPECT_EQ(store_->put(data).status().code(), Errc::io_error);
    EXPECT_GT(faulty.calls(FaultInjectingFileSystem::Op::sync_dir), syncs_before);

    // Healthy again: the put goes through and the chunk reads back.
    auto ok = store_->put(data);
    ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
    EXPECT_EQ(*store_->get(*ok), data);
}

TEST_F(ChunkStoreTest, CorruptReadIsDetected) {
    FaultInjectingFileSystem faulty(posix_file_system());
    store_.reset();
    store_ = open_store({.fs = &faulty});
    auto id = store_->put("some bytes that will rot in transit");
    ASSERT_TRUE(id.is_ok());
    faulty.set_corrupt_reads(true);
    EXPECT_EQ(store_->get(*id).status().code(), Errc::corruption);
    faulty.set_corrupt_reads(false);
    EXPECT_TRUE(store_->get(*id).is_ok());
}

TEST_F(ChunkStoreTest, ConcurrentPutsAndGets) {
    // Several threads put overlapping sets of chunks (same bytes from
    // different threads) and read them back; every read must verify.
    constexpr int kThreads = 4, kChunks = 24;
    std::vector<std::string> datas;
    for (int i = 0; i < kChunks; ++i) datas.push_back(bytes(2000 + i, 1000 + i));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                for (int i = 0; i < kChunks; ++i) {
                    const std::string& d = datas[(i + t * 5) % kChunks];
                    auto id = store_->put(d);
                    if (!id.is_ok()) {
                        failures++;
                        continue;
                    }
                    auto got = store_->get(*id);
                    if (!got.is_ok() || *got != d) failures++;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    auto all = store_->list();
    ASSERT_TRUE(all.is_ok());
    EXPECT_EQ(all->size(), static_cast<size_t>(kChunks));
    EXPECT_TRUE(temp_files().empty());
}

}  // namespace
}  // namespace cleave::blob
