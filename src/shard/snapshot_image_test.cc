#include "shard/snapshot_image.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "common/hash.h"
#include "common/random.h"
#include "shard/reads.h"
#include "shard/record_keys.h"
#include "shard/state_machine.h"
#include "storage/open_engine.h"

namespace cleave::shard {
namespace {

// A private temporary directory, removed with its contents.
class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cleave-image-XXXXXX";
        const char* made = ::mkdtemp(tmpl.data());
        CLEAVE_ASSERT(made != nullptr, "mkdtemp {} failed", tmpl);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

std::unique_ptr<storage::Engine> open(const std::string& kind, const TempDir& dir,
                                      const std::string& name) {
    storage::EngineOptions o{.kind = kind};
    if (kind == "rocksdb") {
        o.path = dir.path() + "/" + name;
        o.block_cache_bytes = 8 << 20;
    }
    auto r = storage::open_engine(o);
    CLEAVE_ASSERT(r.is_ok(), "open {} engine: {}", kind, r.status().to_string());
    return std::move(r).value();
}

// Every key and value in the engine.
std::map<std::string, std::string> dump(storage::Engine& e) {
    std::map<std::string, std::string> out;
    auto it = e.iterate({});
    for (it->seek_to_first(); it->valid(); it->next()) out.emplace(it->key(), it->value());
    EXPECT_TRUE(it->status().is_ok()) << it->status().to_string();
    return out;
}

// Only the state machine's families (what an image carries).
std::map<std::string, std::string> dump_image_families(storage::Engine& e) {
    auto all = dump(e);
    std::erase_if(all, [](const auto& kv) {
        return kv.first.empty() || kv.first[0] == keys::kState || kv.first[0] == keys::kLog;
    });
    return all;
}

// What a client can see through the Reader, as text (records' DebugString),
// so two engines can be compared with one EXPECT_EQ and a readable diff.
std::string client_view(storage::Engine& e, const storage::Snapshot* snap = nullptr) {
    Reader r(e, snap);
    std::string out;
    auto buckets = r.buckets();
    EXPECT_TRUE(buckets.is_ok()) << buckets.status().to_string();
    if (!buckets.is_ok()) return out;
    for (const auto& b : *buckets) {
        out += "bucket " + b.ShortDebugString() + "\n";
        auto objects = r.list_objects(b.name(), "", "", "", 100000);
        EXPECT_TRUE(objects.is_ok()) << objects.status().to_string();
        if (!objects.is_ok()) continue;
        for (const auto& o : objects->objects) {
            out += "  object " + o.key + " " + o.record.ShortDebugString() + "\n";
        }
        for (const char* root : {"a/", "d/", "z/"}) {
            auto m = r.dir_marker_exists(b.name(), root);
            EXPECT_TRUE(m.is_ok());
            if (m.is_ok() && *m) out += std::string("  marker ") + root + "\n";
        }
        auto uploads = r.list_uploads(b.name(), "", "", "", "", 100000);
        EXPECT_TRUE(uploads.is_ok()) << uploads.status().to_string();
        if (!uploads.is_ok()) continue;
        for (const auto& u : uploads->uploads) {
            out += "  upload " + u.key + " " + u.record.ShortDebugString() + "\n";
            auto parts = r.parts(b.name(), u.key, u.record.upload_id(), 0, 10000);
            EXPECT_TRUE(parts.is_ok()) << parts.status().to_string();
            if (!parts.is_ok()) continue;
            for (const auto& p : *parts) out += "    part " + p.ShortDebugString() + "\n";
        }
    }
    return out;
}

// Drives a StateMachine with the commands the service would send.
class Writer {
  public:
    explicit Writer(storage::Engine& e) : sm_(e) {
        auto idx = sm_.load_applied_index();
        CLEAVE_ASSERT(idx.is_ok(), "{}", idx.status().to_string());
    }
    StateMachine& sm() { return sm_; }

    void run(const Command& c) {
        auto r = sm_.apply(sm_.applied_index() + 1, c);
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        ASSERT_TRUE(r->status.is_ok()) << r->status.to_string();
    }
    void bucket(const std::string& b) {
        Command c;
        c.set_time_ms(1000);
        c.mutable_create_bucket()->set_bucket(b);
        run(c);
    }
    void object(const std::string& b, const std::string& k, const std::string& data) {
        const auto slash = k.find('/');
        if (slash != std::string::npos) {
            Command m;
            m.mutable_ensure_dir_marker()->set_bucket(b);
            m.mutable_ensure_dir_marker()->set_root(k.substr(0, slash + 1));
            run(m);
        }
        Command c;
        c.set_time_ms(2000);
        auto* p = c.mutable_put_object();
        p->set_bucket(b);
        p->set_key(k);
        p->mutable_record()->set_etag(to_hex(md5(data)));
        p->mutable_record()->set_last_modified_ms(2000);
        p->mutable_record()->mutable_headers()->set_content_type("text/plain");
        p->mutable_record()->mutable_body()->set_size(data.size());
        p->mutable_record()->mutable_body()->set_inline_data(data);
        run(c);
    }
    void remove(const std::string& b, const std::string& k) {
        Command c;
        c.mutable_delete_object()->set_bucket(b);
        c.mutable_delete_object()->set_key(k);
        run(c);
    }
    void upload(const std::string& b, const std::string& k, const std::string& id, uint32_t parts) {
        Command c;
        c.set_time_ms(3000);
        c.mutable_create_upload()->set_bucket(b);
        c.mutable_create_upload()->set_key(k);
        c.mutable_create_upload()->mutable_record()->set_upload_id(id);
        run(c);
        for (uint32_t n = 1; n <= parts; ++n) {
            Command pp;
            auto* p = pp.mutable_put_part();
            p->set_bucket(b);
            p->set_key(k);
            p->set_upload_id(id);
            p->mutable_record()->set_part_number(n);
            p->mutable_record()->set_etag(to_hex(md5(id + std::to_string(n))));
            p->mutable_record()->mutable_body()->set_size(100);
            auto* chunk = p->mutable_record()->mutable_body()->add_chunks();
            chunk->set_id(sha256(id + std::to_string(n)));
            chunk->set_size(100);
            run(pp);
        }
    }

  private:
    StateMachine sm_;
};

std::string upload_id(char c) { return std::string(kUploadIdLength, c); }

// Buckets, objects in the root and in directories (so markers), uploads with
// parts, and some deletes so the state is not just the commands' union.
void populate(Writer& w, uint64_t seed) {
    Random rng(seed);
    w.bucket("photos");
    w.bucket("logs");
    w.bucket("empty");
    for (int i = 0; i < 40; ++i) {
        const char* dirs[] = {"", "a/", "d/", "a/b/"};
        const std::string key = dirs[rng.uniform(4)] + fmt::format("k{:03}", rng.uniform(60));
        w.object(rng.chance(1, 2) ? "photos" : "logs", key, fmt::format("v{}", rng.next_u64()));
    }
    w.remove("photos", "k001");
    w.upload("photos", "big/video", upload_id('a'), 3);
    w.upload("logs", "d/archive", upload_id('b'), 2);
    w.upload("logs", "d/archive", upload_id('c'), 0);
}

uint64_t test_seed() {
    const char* env = std::getenv("CLEAVE_SEED");
    const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 0x1A6E5EEDULL;
    std::cout << "seed " << seed << " (replay with CLEAVE_SEED=" << seed << ")\n";
    return seed;
}

struct Kinds {
    std::string source;
    std::string target;
    friend void PrintTo(const Kinds& k, std::ostream* os) { *os << k.source << " -> " << k.target; }
};

class SnapshotImageTest : public ::testing::TestWithParam<Kinds> {
  protected:
    void SetUp() override {
        source_ = open(GetParam().source, dir_, "source");
        target_ = open(GetParam().target, dir_, "target");
    }

    TempDir dir_;
    std::unique_ptr<storage::Engine> source_;
    std::unique_ptr<storage::Engine> target_;
};

TEST_P(SnapshotImageTest, InstallReproducesTheSnapshotAndReplacesStaleState) {
    const uint64_t seed = test_seed();
    Writer src(*source_);
    populate(src, seed);
    const uint64_t image_index = src.sm().applied_index();

    // The image is of the snapshot: what is applied after it stays out.
    auto snap = source_->snapshot();
    const std::string expected_view = client_view(*source_, snap.get());
    auto image = build_image(*source_, snap.get());
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();
    src.object("photos", "after-the-snapshot", "late");
    src.bucket("late-bucket");
    ASSERT_NE(client_view(*source_), expected_view);

    // The target has state of its own: records the image lacks must go, the
    // command log and other shard state must stay.
    Writer dst(*target_);
    dst.bucket("stale-bucket");
    dst.bucket("photos");
    dst.object("photos", "stale-key", "never in the image");
    dst.object("photos", "z/stale", "so a marker the image lacks");
    dst.upload("photos", "stale-upload", upload_id('f'), 2);
    ASSERT_TRUE(target_->put(keys::log_entry(7), "logged command").is_ok());
    ASSERT_TRUE(target_->put(keys::state("other"), "kept").is_ok());
    ASSERT_NE(client_view(*target_), expected_view);

    ASSERT_TRUE(install_image(*target_, *image, image_index).is_ok());
    EXPECT_EQ(client_view(*target_), expected_view);
    EXPECT_FALSE(expected_view.empty());
    EXPECT_NE(expected_view.find("upload"), std::string::npos);
    EXPECT_NE(expected_view.find("marker"), std::string::npos);

    // Byte for byte, too.
    auto reference = open("memory", dir_, "");
    Writer ref(*reference);
    populate(ref, seed);
    EXPECT_EQ(dump_image_families(*target_), dump_image_families(*reference));

    auto log = target_->get(keys::log_entry(7));
    ASSERT_TRUE(log.is_ok());
    EXPECT_EQ(log->value_or(""), "logged command");
    auto other = target_->get(keys::state("other"));
    ASSERT_TRUE(other.is_ok());
    EXPECT_EQ(other->value_or(""), "kept");

    // The state machine resumes right after the image.
    StateMachine fresh(*target_);
    auto idx = fresh.load_applied_index();
    ASSERT_TRUE(idx.is_ok());
    EXPECT_EQ(*idx, image_index);
    auto stale = dst.sm().load_applied_index();  // the cached index is refreshed
    ASSERT_TRUE(stale.is_ok());
    EXPECT_EQ(dst.sm().applied_index(), image_index);
    dst.object("photos", "next", "after install");
    EXPECT_EQ(dst.sm().applied_index(), image_index + 1);
}

TEST_P(SnapshotImageTest, InstallOfAnEmptyImageClearsTheStateMachine) {
    auto empty = build_image(*source_, nullptr);
    ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();

    Writer dst(*target_);
    populate(dst, 1);
    ASSERT_TRUE(target_->put(keys::log_entry(1), "l").is_ok());
    ASSERT_TRUE(install_image(*target_, *empty, 3).is_ok());
    EXPECT_TRUE(dump_image_families(*target_).empty());
    EXPECT_EQ(client_view(*target_), "");
    auto all = dump(*target_);
    EXPECT_EQ(all.count(keys::log_entry(1)), 1u);
    ASSERT_TRUE(dst.sm().load_applied_index().is_ok());
    EXPECT_EQ(dst.sm().applied_index(), 3u);
}

TEST_P(SnapshotImageTest, DamagedImageIsCorruptionAndChangesNothing) {
    const uint64_t seed = test_seed();
    Writer src(*source_);
    populate(src, seed);
    auto image = build_image(*source_, nullptr);
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();

    Writer dst(*target_);
    dst.bucket("mine");
    dst.object("mine", "a/kept", "data");
    const auto before = dump(*target_);

    Random rng(seed);
    std::vector<std::string> damaged = {
        "",
        image->substr(0, image->size() - 1),
        image->substr(0, image->size() / 2),
        *image + "x",
        image->substr(1),
    };
    // Every byte of the header and trailer, and a sample of the rest.
    for (size_t i = 0; i < image->size(); ++i) {
        if (i >= 16 && i + 16 < image->size() && !rng.chance(1, 50)) continue;
        std::string bad = *image;
        bad[i] ^= static_cast<char>(1 << rng.uniform(8));
        damaged.push_back(std::move(bad));
    }
    for (const auto& bad : damaged) {
        Status s = install_image(*target_, bad, 999);
        ASSERT_EQ(s.code(), Errc::corruption)
            << "image of " << bad.size() << " bytes: " << s.to_string();
    }
    EXPECT_EQ(dump(*target_), before);
}

// An image whose CRC is right but whose records are not what build_image
// writes (as a buggy or hostile peer could send) is refused all the same:
// above all it must not write outside the state machine's families.
TEST_P(SnapshotImageTest, WellChecksummedButMalformedImageIsRefused) {
    auto make = [](const std::vector<std::pair<std::string, std::string>>& records,
                   uint64_t count) {
        std::string out = "CLVIMG01";
        for (const auto& [k, v] : records) {
            out += keys::be32(static_cast<uint32_t>(k.size())) +
                   keys::be32(static_cast<uint32_t>(v.size())) + k + v;
        }
        out += keys::be64(count);
        out += keys::be32(crc32c(out));
        return out;
    };
    const std::string bucket_key = keys::bucket("b");
    // The format as documented is accepted...
    ASSERT_TRUE(install_image(*target_, make({{bucket_key, "v"}}, 1), 1).is_ok());
    const auto before = dump(*target_);
    // ...and every deviation is not.
    const std::string bad_images[] = {
        make({{keys::log_entry(1), "v"}}, 1),                    // the command log
        make({{keys::state("applied_index"), "v"}}, 1),          // shard state
        make({{"", "v"}}, 1),                                    // empty key
        make({{bucket_key, "v"}, {bucket_key, "w"}}, 2),         // duplicate
        make({{keys::bucket("c"), "v"}, {bucket_key, "w"}}, 2),  // out of order
        make({{bucket_key, "v"}}, 2),                            // count mismatch
    };
    for (const auto& bad : bad_images) {
        EXPECT_EQ(install_image(*target_, bad, 5).code(), Errc::corruption);
    }
    EXPECT_EQ(dump(*target_), before);
}

INSTANTIATE_TEST_SUITE_P(Engines, SnapshotImageTest,
                         ::testing::Values(Kinds{"memory", "memory"}, Kinds{"memory", "rocksdb"},
                                           Kinds{"rocksdb", "memory"}, Kinds{"rocksdb", "rocksdb"}),
                         [](const auto& info) {
                             return info.param.source + "_to_" + info.param.target;
                         });

}  // namespace
}  // namespace cleave::shard
