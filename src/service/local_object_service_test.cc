#include "service/local_object_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/hash.h"
#include "common/random.h"
#include "shard/local_replica.h"
#include "shard/reads.h"
#include "shard/record_keys.h"
#include "storage/memory/memory_engine.h"

namespace cleave::service {
namespace {

class LocalObjectServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("cleave-svc-" + to_hex(os_random_bytes(6)));
        auto chunks = blob::ChunkStore::open(dir_.string());
        ASSERT_TRUE(chunks.is_ok()) << chunks.status().to_string();
        chunks_ = std::move(*chunks);
        auto replica = shard::LocalReplica::open(engine_);
        ASSERT_TRUE(replica.is_ok());
        replica_ = std::move(*replica);
        restart_service(1024);  // small chunks: many chunk boundaries in small objects
        ASSERT_TRUE(svc_->create_bucket("b").is_ok());
    }
    void restart_service(size_t chunk_size) {
        LocalObjectServiceOptions o;
        o.chunk_size_bytes = chunk_size;
        o.inline_limit_bytes = 256;
        o.gc_grace_ms = 0;
        o.gc_interval_ms = 0;
        svc_.reset();
        svc_ = std::make_unique<LocalObjectService>(engine_, *chunks_, *replica_, clock_, o);
    }
    void TearDown() override {
        svc_.reset();
        replica_.reset();
        chunks_.reset();
        std::filesystem::remove_all(dir_);
    }

    Result<ObjectInfo> put(const std::string& key, const std::string& data,
                           WriteConditions cond = {}, size_t piece = 100) {
        auto w = svc_->begin_put("b", key);
        if (!w.is_ok()) return w.status();
        for (size_t i = 0; i < data.size(); i += piece) {
            CLEAVE_RETURN_IF_ERROR((*w)->write(std::string_view(data).substr(i, piece)));
        }
        auto d = (*w)->finish();
        if (!d.is_ok()) return d.status();
        EXPECT_EQ(d->md5, md5(data));
        EXPECT_EQ(d->sha256, sha256(data));
        return svc_->commit_put(std::move(*w), "b", key, ObjectHeaders{}, cond);
    }

    Result<std::string> get(const std::string& key, std::optional<ByteRange> range = {}) {
        auto r = svc_->get_object("b", key, range);
        if (!r.is_ok()) return r.status();
        std::string out;
        while (true) {
            auto piece = (*r)->next();
            if (!piece.is_ok()) return piece.status();
            if (piece->empty()) break;
            out += *piece;
        }
        EXPECT_EQ(out.size(), (*r)->length());
        return out;
    }

    static std::string data_of(size_t n, uint64_t seed) {
        Random rng(seed);
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng.next_u64());
        return s;
    }

    std::filesystem::path dir_;
    storage::MemoryEngine engine_;
    ManualClock clock_{SystemClock::instance().now_unix_ms()};
    std::unique_ptr<blob::ChunkStore> chunks_;
    std::unique_ptr<shard::LocalReplica> replica_;
    std::unique_ptr<LocalObjectService> svc_;
};

TEST_F(LocalObjectServiceTest, InlineAndChunkedRoundTripWithRanges) {
    for (size_t size : {0, 1, 256, 257, 1024, 1025, 5000}) {
        std::string key = "dir/obj" + std::to_string(size);
        std::string data = data_of(size, size);
        auto info = put(key, data);
        ASSERT_TRUE(info.is_ok()) << info.status().to_string();
        EXPECT_EQ(info->etag, to_hex(md5(data)));
        EXPECT_EQ(info->size, size);
        auto back = get(key);
        ASSERT_TRUE(back.is_ok()) << back.status().to_string();
        EXPECT_EQ(*back, data);
        if (size > 10) {
            for (auto [a, b] : {std::pair<uint64_t, uint64_t>{0, 0},
                                {1, size - 2},
                                {size - 1, size - 1},
                                {1000, std::min<uint64_t>(size - 1, 2100)}}) {
                if (a >= size || b >= size || a > b) continue;
                auto part = get(key, ByteRange{a, b});
                ASSERT_TRUE(part.is_ok());
                EXPECT_EQ(*part, data.substr(a, b - a + 1)) << size << " " << a << "-" << b;
            }
        }
    }
    auto bad = svc_->get_object("b", "dir/obj5000", ByteRange{5000, 5001});
    EXPECT_EQ(bad.status().code(), Errc::invalid_range);
}

TEST_F(LocalObjectServiceTest, MissingThingsHaveTheirOwnErrors) {
    EXPECT_EQ(svc_->head_object("b", "nope").status().code(), Errc::no_such_key);
    EXPECT_EQ(svc_->head_object("nob", "k").status().code(), Errc::no_such_bucket);
    EXPECT_EQ(svc_->begin_put("nob", "k").status().code(), Errc::no_such_bucket);
    EXPECT_EQ(svc_->create_bucket("b").code(), Errc::already_exists);
    EXPECT_EQ(svc_->begin_put("b", std::string(1025, 'k')).status().code(), Errc::too_large);
    EXPECT_TRUE(svc_->delete_object("b", "never-existed").is_ok());
}

TEST_F(LocalObjectServiceTest, CorruptedChunkIsNeverServed) {
    std::string data = data_of(3000, 7);
    ASSERT_TRUE(put("k", data).is_ok());
    // Flip one byte of one chunk file on disk.
    auto listed = chunks_->list();
    ASSERT_TRUE(listed.is_ok());
    ASSERT_FALSE(listed->empty());
    std::string path = chunks_->path_of((*listed)[0].id);
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(10);
        char c = 0;
        f.read(&c, 1);
        f.seekp(10);
        c = static_cast<char>(c ^ 0x5a);
        f.write(&c, 1);
    }
    auto back = get("k");
    ASSERT_FALSE(back.is_ok());
    EXPECT_EQ(back.status().code(), Errc::corruption);
}

TEST_F(LocalObjectServiceTest, GarbageCollectionKeepsReferencedChunksOnly) {
    std::string a = data_of(4096, 1), b = data_of(4096, 2);
    ASSERT_TRUE(put("a", a).is_ok());
    ASSERT_TRUE(put("b", b).is_ok());
    ASSERT_TRUE(svc_->delete_object("b", "b").is_ok());
    // An abandoned upload leaves chunks behind too.
    {
        auto w = svc_->begin_put("b", "abandoned");
        ASSERT_TRUE(w.is_ok());
        ASSERT_TRUE((*w)->write(data_of(2048, 3)).is_ok());
        ASSERT_TRUE((*w)->finish().is_ok());
    }
    auto before = chunks_->list();
    ASSERT_TRUE(before.is_ok());
    EXPECT_EQ(before->size(), 10u);  // 4 + 4 + 2 chunks of 1 KiB
    clock_.advance_ms(1000);
    auto gc = svc_->collect_garbage();
    ASSERT_TRUE(gc.is_ok()) << gc.status().to_string();
    EXPECT_EQ(gc->removed, 6u);
    auto back = get("a");
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, a);
}

TEST_F(LocalObjectServiceTest, CopySharesChunksAndReplacesHeaders) {
    std::string data = data_of(3000, 9);
    ASSERT_TRUE(put("src", data).is_ok());
    size_t chunks_before = chunks_->list()->size();
    ObjectHeaders h;
    h.content_type = "text/plain";
    h.user_metadata = {{"color", "blue"}};
    auto copied = svc_->copy_object("b", "src", "b", "dst/copy", h, {});
    ASSERT_TRUE(copied.is_ok()) << copied.status().to_string();
    EXPECT_EQ(copied->etag, to_hex(md5(data)));
    EXPECT_EQ(chunks_->list()->size(), chunks_before);
    auto head = svc_->head_object("b", "dst/copy");
    ASSERT_TRUE(head.is_ok());
    EXPECT_EQ(head->headers.content_type, "text/plain");
    ASSERT_EQ(head->headers.user_metadata.size(), 1u);
    ASSERT_TRUE(svc_->delete_object("b", "src").is_ok());
    clock_.advance_ms(1000);
    ASSERT_TRUE(svc_->collect_garbage().is_ok());
    EXPECT_EQ(*get("dst/copy"), data);
}

TEST_F(LocalObjectServiceTest, MultipartUploadLifecycle) {
    restart_service(1 << 20);  // a 5 MiB part in 1 KiB chunks would be 5,120 fsyncs
    auto id = svc_->create_multipart("b", "mp/obj", ObjectHeaders{});
    ASSERT_TRUE(id.is_ok());
    std::string p1 = data_of(kMinPartBytes, 1), p2 = data_of(1000, 2);
    std::vector<CompletedPart> done;
    for (auto [n, data] : {std::pair<uint32_t, std::string*>{1, &p1}, {2, &p2}}) {
        auto w = svc_->begin_part("b", "mp/obj", *id, n);
        ASSERT_TRUE(w.is_ok());
        ASSERT_TRUE((*w)->write(*data).is_ok());
        ASSERT_TRUE((*w)->finish().is_ok());
        auto part = svc_->commit_part(std::move(*w), "b", "mp/obj", *id, n);
        ASSERT_TRUE(part.is_ok());
        EXPECT_EQ(part->etag, to_hex(md5(*data)));
        done.push_back({n, part->etag});
    }
    auto parts = svc_->list_parts("b", "mp/obj", *id, 0, 1);
    ASSERT_TRUE(parts.is_ok());
    EXPECT_EQ(parts->parts.size(), 1u);
    EXPECT_TRUE(parts->is_truncated);
    auto uploads = svc_->list_uploads("b", "", "", "", "", 100);
    ASSERT_TRUE(uploads.is_ok());
    ASSERT_EQ(uploads->uploads.size(), 1u);
    EXPECT_EQ(uploads->uploads[0].key, "mp/obj");
    EXPECT_EQ(svc_->delete_bucket("b").code(), Errc::not_empty);

    auto obj = svc_->complete_multipart("b", "mp/obj", *id, done, {});
    ASSERT_TRUE(obj.is_ok()) << obj.status().to_string();
    EXPECT_EQ(obj->etag.substr(obj->etag.size() - 2), "-2");
    EXPECT_EQ(*get("mp/obj"), p1 + p2);
    auto range = get("mp/obj", ByteRange{kMinPartBytes - 10, kMinPartBytes + 9});
    EXPECT_EQ(*range, (p1 + p2).substr(kMinPartBytes - 10, 20));
    EXPECT_EQ(svc_->abort_multipart("b", "mp/obj", *id).code(), Errc::no_such_upload);
    auto listed = svc_->list_objects("b", ListQuery{});
    ASSERT_TRUE(listed.is_ok());
    ASSERT_EQ(listed->objects.size(), 1u);
    EXPECT_EQ(listed->objects[0].parts_count, 2u);
}

// A cluster's layout: buckets in a meta shard (its own engine and replica),
// mirrored into the data shard whose writes check them.
TEST(MetaShardBuckets, CreateListDeleteGoThroughTheMetaShardAndTheMirror) {
    storage::MemoryEngine data_engine, meta_engine;
    auto dir =
        std::filesystem::temp_directory_path() / ("cleave-meta-" + to_hex(os_random_bytes(6)));
    auto chunks = blob::ChunkStore::open(dir.string());
    ASSERT_TRUE(chunks.is_ok());
    auto data = shard::LocalReplica::open(data_engine);
    auto meta = shard::LocalReplica::open(meta_engine);
    ASSERT_TRUE(data.is_ok() && meta.is_ok());
    ManualClock clock(1700000000000);
    LocalObjectServiceOptions o;
    o.gc_interval_ms = 0;
    {
        LocalObjectService svc(data_engine, **chunks, **data, clock, o, nullptr, nullptr,
                               MetaShard{meta->get(), &meta_engine});
        ASSERT_TRUE(svc.create_bucket("photos").is_ok());
        EXPECT_EQ(svc.create_bucket("photos").code(), Errc::already_exists);
        // Authoritative in the meta shard, mirrored in the data shard.
        EXPECT_TRUE(shard::Reader(meta_engine).bucket("photos")->has_value());
        EXPECT_TRUE(shard::Reader(data_engine).bucket("photos")->has_value());
        auto listed = svc.list_buckets();
        ASSERT_TRUE(listed.is_ok());
        ASSERT_EQ(listed->size(), 1u);

        // A mirror lost between the two steps (as if the create had never
        // reached the data shard) is repaired by the next write.
        storage::WriteBatch drop;
        drop.del(shard::keys::bucket("photos"));
        ASSERT_TRUE(data_engine.write(drop, storage::WriteOptions{}).is_ok());
        auto w = svc.begin_put("photos", "a/b.jpg");
        ASSERT_TRUE(w.is_ok()) << w.status().to_string();
        ASSERT_TRUE((*w)->write("jpeg").is_ok());
        ASSERT_TRUE((*w)->finish().is_ok());
        ASSERT_TRUE(svc.commit_put(std::move(*w), "photos", "a/b.jpg", {}, {}).is_ok());

        // Deleting refuses while the data shard holds objects, in both shards.
        EXPECT_EQ(svc.delete_bucket("photos").code(), Errc::not_empty);
        EXPECT_TRUE(svc.head_bucket("photos").is_ok());
        ASSERT_TRUE(svc.delete_object("photos", "a/b.jpg").is_ok());
        ASSERT_TRUE(svc.delete_bucket("photos").is_ok());
        EXPECT_EQ(svc.head_bucket("photos").status().code(), Errc::no_such_bucket);
        EXPECT_FALSE(shard::Reader(data_engine).bucket("photos")->has_value());
    }
    (*data)->stop();
    (*meta)->stop();
    chunks->reset();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cleave::service
