// Shard ranges and Split in the state machine (state_machine.h,
// split_host.h), on the memory and the RocksDB engine.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/hash.h"
#include "meta/keyspace.h"
#include "shard/reads.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"
#include "shard/snapshot_image.h"
#include "shard/split_host.h"
#include "shard/state_machine.h"
#include "storage/open_engine.h"

namespace cleave::shard {
namespace {

// A private temporary directory, removed with its contents.
class ScratchDir {
  public:
    ScratchDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cleave-split-XXXXXX";
        const char* made = ::mkdtemp(tmpl.data());
        CLEAVE_ASSERT(made != nullptr, "mkdtemp {} failed", tmpl);
        path_ = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Opens `kind` at `path`: a new RocksDB database, or for the memory engine a
// fresh one, loaded from `path` when a checkpoint is there.
std::unique_ptr<storage::Engine> open(const std::string& kind, const std::string& path) {
    storage::EngineOptions o{.kind = kind, .path = path};
    o.block_cache_bytes = 8 << 20;
    auto r = storage::open_engine(o);
    CLEAVE_ASSERT(r.is_ok(), "open {} engine at {}: {}", kind, path, r.status().to_string());
    return std::move(r).value();
}

// A copy of `source` (a checkpoint, opened), like a restart from its state.
std::unique_ptr<storage::Engine> copy_of(storage::Engine& source, const std::string& kind,
                                         const std::string& path) {
    Status s = source.checkpoint(path);
    CLEAVE_ASSERT(s.is_ok(), "checkpoint to {}: {}", path, s.to_string());
    return open(kind, path);
}

std::map<std::string, std::string> dump(storage::Engine& e) {
    std::map<std::string, std::string> out;
    auto it = e.iterate({});
    for (it->seek_to_first(); it->valid(); it->next()) out.emplace(it->key(), it->value());
    EXPECT_TRUE(it->status().is_ok()) << it->status().to_string();
    return out;
}

// Without the shard state ('s') and the command log ('l').
std::map<std::string, std::string> dump_records(storage::Engine& e) {
    auto all = dump(e);
    std::erase_if(all, [](const auto& kv) {
        return kv.first[0] == keys::kState || kv.first[0] == keys::kLog;
    });
    return all;
}

// The host of a node, for tests: child engines are checkpoints of the parent,
// in the scratch directory. A child reported ready is never made again; one
// that was not is discarded and made afresh (split_host.h).
class TestSplitHost final : public SplitHost {
  public:
    TestSplitHost(std::string kind, std::string dir)
        : kind_(std::move(kind)), dir_(std::move(dir)) {}

    Result<storage::Engine*> create_child(uint64_t child, storage::Engine& parent) override {
        ++create_calls;
        if (ready_.count(child) != 0) return static_cast<storage::Engine*>(nullptr);

        children_.erase(child);
        const std::string path = fmt::format("{}/child-{}-{}", dir_, child, create_calls);
        CLEAVE_RETURN_IF_ERROR(parent.checkpoint(path));
        auto engine = open(kind_, path);
        storage::Engine* out = engine.get();
        children_[child] = std::move(engine);
        return out;
    }

    Status child_ready(uint64_t child) override {
        if (fail_next_ready) {
            fail_next_ready = false;
            return Status(Errc::io_error, "injected: crash before the child is ready");
        }
        ready_.insert(child);
        return Status::ok();
    }

    storage::Engine* child(uint64_t id) {
        auto it = children_.find(id);
        return it == children_.end() ? nullptr : it->second.get();
    }
    bool ready(uint64_t id) const { return ready_.count(id) != 0; }

    int create_calls = 0;
    bool fail_next_ready = false;

  private:
    const std::string kind_;
    const std::string dir_;
    std::map<uint64_t, std::unique_ptr<storage::Engine>> children_;
    std::set<uint64_t> ready_;
};

ShardDescriptor range_of(uint64_t id, std::string start, std::string end, uint64_t epoch) {
    ShardDescriptor r;
    r.set_id(id);
    r.set_start(std::move(start));
    r.set_end(std::move(end));
    r.set_epoch(epoch);
    return r;
}

void set_range(storage::Engine& e, const ShardDescriptor& r) {
    storage::WriteBatch b;
    StateMachine::put_range(b, r);
    ASSERT_TRUE(e.write(b).is_ok());
}

bool same_range(const ShardDescriptor& a, const ShardDescriptor& b) {
    return a.SerializeAsString() == b.SerializeAsString();
}

std::string upload_id(int n) { return fmt::format("{:032}", n); }

Command split(const std::string& key, uint64_t new_shard) {
    Command c;
    c.mutable_split()->set_key(key);
    c.mutable_split()->set_new_shard(new_shard);
    return c;
}

// Drives one StateMachine and remembers, for every placed record it made,
// the pk the record belongs to (the oracle of which half keeps it).
class Driver {
  public:
    explicit Driver(storage::Engine& e, SplitHost* host = nullptr) : sm_(e, host) {
        auto idx = sm_.load_applied_index();
        CLEAVE_ASSERT(idx.is_ok(), "{}", idx.status().to_string());
    }
    StateMachine& sm() { return sm_; }
    const std::map<std::string, std::string>& pk_of() const { return pk_of_; }

    // The outcome of the next command (an engine failure fails the test).
    ApplyOutcome apply(const Command& c) {
        auto r = sm_.apply(sm_.applied_index() + 1, c);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        if (!r.is_ok()) return {};
        return std::move(r).value();
    }
    Status run(const Command& c) { return apply(c).status; }

    Status bucket(const std::string& b) {
        Command c;
        c.set_time_ms(1000);
        c.mutable_create_bucket()->set_bucket(b);
        return run(c);
    }
    Status marker(const std::string& b, const std::string& root) {
        Command c;
        c.set_time_ms(1500);
        c.mutable_ensure_dir_marker()->set_bucket(b);
        c.mutable_ensure_dir_marker()->set_root(root);
        Status s = run(c);
        if (s.is_ok()) {
            const std::string mpk = meta::dir_marker_key(b, root);
            pk_of_[keys::with_family(keys::kMarker, mpk)] = mpk;
        }
        return s;
    }
    Status object(const std::string& b, const std::string& k) {
        Command c;
        c.set_time_ms(2000);
        auto* p = c.mutable_put_object();
        p->set_bucket(b);
        p->set_key(k);
        p->mutable_record()->set_etag(to_hex(md5(k)));
        p->mutable_record()->mutable_body()->set_size(k.size());
        p->mutable_record()->mutable_body()->set_inline_data(k);
        Status s = run(c);
        const std::string pk = meta::placement_key(b, k);
        if (s.is_ok()) pk_of_[keys::with_family(keys::kObject, pk)] = pk;
        return s;
    }
    Status upload(const std::string& b, const std::string& k, int id, uint32_t parts) {
        Command c;
        c.set_time_ms(3000);
        c.mutable_create_upload()->set_bucket(b);
        c.mutable_create_upload()->set_key(k);
        c.mutable_create_upload()->mutable_record()->set_upload_id(upload_id(id));
        Status s = run(c);
        if (!s.is_ok()) return s;
        const std::string pk = meta::placement_key(b, k);
        pk_of_[keys::upload(pk, upload_id(id))] = pk;
        for (uint32_t n = 1; n <= parts; ++n) {
            Command pp;
            auto* p = pp.mutable_put_part();
            p->set_bucket(b);
            p->set_key(k);
            p->set_upload_id(upload_id(id));
            p->mutable_record()->set_part_number(n);
            p->mutable_record()->set_etag(to_hex(md5(k + std::to_string(n))));
            p->mutable_record()->mutable_body()->set_size(100);
            s = run(pp);
            if (!s.is_ok()) return s;
            pk_of_[keys::part(pk, upload_id(id), n)] = pk;
        }
        return s;
    }

  private:
    StateMachine sm_;
    std::map<std::string, std::string> pk_of_;
};

// Two buckets, objects in the bucket root and in 12 directories (so markers),
// uploads with parts, and some command-log entries.
void populate(Driver& d, storage::Engine& e) {
    for (const char* b : {"photos", "logs"}) {
        ASSERT_TRUE(d.bucket(b).is_ok());
        for (int dir = 0; dir < 12; ++dir) {
            const std::string root = fmt::format("d{:02}/", dir);
            ASSERT_TRUE(d.marker(b, root).is_ok());
            for (int i = 0; i < 4; ++i) {
                ASSERT_TRUE(d.object(b, fmt::format("{}k{}", root, i)).is_ok());
            }
            ASSERT_TRUE(d.upload(b, root + "big", dir, 2).is_ok());
        }
        for (int i = 0; i < 6; ++i) ASSERT_TRUE(d.object(b, fmt::format("top{}", i)).is_ok());
    }
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(e.put(keys::log_entry(i), "logged").is_ok());
}

// The cut point of the tests: the directory start (hash prefix) of the
// middle object, as choose_split_key prefers.
std::string middle_cut(const std::map<std::string, std::string>& pk_of) {
    std::vector<std::string> pks;
    for (const auto& [key, pk] : pk_of) {
        if (key[0] == keys::kObject) pks.push_back(pk);
    }
    std::sort(pks.begin(), pks.end());
    return pks[pks.size() / 2].substr(0, 8);
}

// `before`'s records whose pk (per the oracle) is in [lo, hi), plus the
// unplaced records (bucket mirrors, the roots each shard has held) that both
// halves keep.
std::map<std::string, std::string> expected_half(const std::map<std::string, std::string>& before,
                                                 const std::map<std::string, std::string>& pk_of,
                                                 const std::string& lo, const std::string& hi) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : before) {
        auto it = pk_of.find(k);
        if (it == pk_of.end()) {
            EXPECT_TRUE(k[0] == keys::kBucket || k[0] == keys::kRootHeld)
                << "a record the oracle does not know: " << to_hex(k);
            out.emplace(k, v);
            continue;
        }
        if (it->second >= lo && (hi.empty() || it->second < hi)) out.emplace(k, v);
    }
    return out;
}

class SplitTest : public ::testing::TestWithParam<std::string> {
  protected:
    std::string kind() const { return GetParam(); }
    std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

    ScratchDir dir_;
    std::unique_ptr<storage::Engine> parent_ = open(kind(), path("parent"));
    TestSplitHost host_{kind(), dir_.path()};
};

TEST_P(SplitTest, WithoutARangeRecordTheShardOwnsEverything) {
    Driver d(*parent_);
    EXPECT_TRUE(same_range(d.sm().range(), ShardDescriptor{}));
    ASSERT_TRUE(d.bucket("b").is_ok());
    EXPECT_TRUE(d.object("b", "any/key").is_ok());
    auto loaded = d.sm().load_range();
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_TRUE(same_range(*loaded, ShardDescriptor{}));
}

TEST_P(SplitTest, KeyedCommandsOutsideTheRangeAreRefusedAndChangeNothing) {
    // The range [pk of k05, pk of k15) of the keys k00..k19 (in pk order).
    std::vector<std::string> names;
    for (int i = 0; i < 20; ++i) names.push_back(fmt::format("dir{:02}/obj", i));
    std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
        return meta::placement_key("b", a) < meta::placement_key("b", b);
    });
    const ShardDescriptor range =
        range_of(7, meta::placement_key("b", names[5]), meta::placement_key("b", names[15]), 3);
    set_range(*parent_, range);

    // Constructed after the range was written and never loaded explicitly:
    // apply() loads it on first use.
    StateMachine sm(*parent_);
    uint64_t index = 0;
    auto apply = [&](const Command& c) {
        auto r = sm.apply(++index, c);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return r.is_ok() ? r->status : r.status();
    };
    Command cb;
    cb.mutable_create_bucket()->set_bucket("b");
    ASSERT_TRUE(apply(cb).is_ok()) << "bucket commands are not checked";

    for (size_t i = 0; i < names.size(); ++i) {
        const bool inside = i >= 5 && i < 15;
        const std::string& k = names[i];
        const auto before = dump(*parent_);
        Command put;
        put.mutable_put_object()->set_bucket("b");
        put.mutable_put_object()->set_key(k);
        put.mutable_put_object()->mutable_record()->set_etag("e");
        Command create;
        create.mutable_create_upload()->set_bucket("b");
        create.mutable_create_upload()->set_key(k);
        create.mutable_create_upload()->mutable_record()->set_upload_id(upload_id(1));
        Command part;
        part.mutable_put_part()->set_bucket("b");
        part.mutable_put_part()->set_key(k);
        part.mutable_put_part()->set_upload_id(upload_id(1));
        part.mutable_put_part()->mutable_record()->set_part_number(1);
        part.mutable_put_part()->mutable_record()->set_etag("p");
        Command complete;
        complete.mutable_complete_upload()->set_bucket("b");
        complete.mutable_complete_upload()->set_key(k);
        complete.mutable_complete_upload()->set_upload_id(upload_id(1));
        auto* cp = complete.mutable_complete_upload()->add_parts();
        cp->set_part_number(1);
        cp->set_etag("p");
        Command create2 = create;
        create2.mutable_create_upload()->mutable_record()->set_upload_id(upload_id(2));
        Command abort;
        abort.mutable_abort_upload()->set_bucket("b");
        abort.mutable_abort_upload()->set_key(k);
        abort.mutable_abort_upload()->set_upload_id(upload_id(2));
        Command del;
        del.mutable_delete_object()->set_bucket("b");
        del.mutable_delete_object()->set_key(k);

        // Every keyed command, each of which succeeds when the key is owned.
        for (const Command& c : {put, create, part, complete, create2, abort, del}) {
            Status s = apply(c);
            if (inside) {
                EXPECT_TRUE(s.is_ok()) << k << ": " << s.to_string();
            } else {
                EXPECT_EQ(s.code(), Errc::stale_epoch) << k << ": " << s.to_string();
                EXPECT_NE(s.message().find("shard 7 (epoch 3) does not own"), std::string::npos)
                    << s.message();
            }
        }
        if (!inside) {
            // Nothing but the applied index moved.
            auto after = dump(*parent_);
            after.erase(keys::state("applied_index"));
            auto expected = before;
            expected.erase(keys::state("applied_index"));
            EXPECT_EQ(after, expected) << k;
        }
        EXPECT_EQ(sm.applied_index(), index);
    }

    // Directory markers are owned by the marker's pk, in the bucket root.
    const std::string mpk = meta::dir_marker_key("b", "dir00/");
    Command m;
    m.mutable_ensure_dir_marker()->set_bucket("b");
    m.mutable_ensure_dir_marker()->set_root("dir00/");
    EXPECT_EQ(apply(m).is_ok(), range_contains(range, mpk));
}

TEST_P(SplitTest, SplitCutsTheParentAndMakesTheChild) {
    set_range(*parent_, range_of(1, "", "", 1));
    Driver d(*parent_, &host_);
    populate(d, *parent_);
    const std::string cut = middle_cut(d.pk_of());
    const auto before = dump_records(*parent_);
    const uint64_t i = d.sm().applied_index() + 1;

    ApplyOutcome out = d.apply(split(cut, 2));
    ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
    ASSERT_TRUE(out.child.has_value());
    EXPECT_TRUE(same_range(*out.child, range_of(2, cut, "", 2)));
    EXPECT_EQ(d.sm().applied_index(), i);
    EXPECT_TRUE(same_range(d.sm().range(), range_of(1, "", cut, 2)));
    EXPECT_EQ(host_.create_calls, 1);
    ASSERT_TRUE(host_.ready(2));
    storage::Engine* child = host_.child(2);
    ASSERT_NE(child, nullptr);

    // Exactly the lower half stays, exactly the upper half moves; both keep
    // the bucket mirrors; neither half is empty.
    const auto lower = expected_half(before, d.pk_of(), "", cut);
    const auto upper = expected_half(before, d.pk_of(), cut, "");
    EXPECT_EQ(dump_records(*parent_), lower);
    EXPECT_EQ(dump_records(*child), upper);
    EXPECT_GT(lower.size(), 20u);
    EXPECT_GT(upper.size(), 20u);
    for (auto* e : {parent_.get(), child}) {
        auto b = Reader(*e).bucket("photos");
        ASSERT_TRUE(b.is_ok());
        EXPECT_TRUE(b->has_value());
    }

    // The parent keeps its log; the child starts with none, at index 0.
    EXPECT_EQ(dump(*parent_).count(keys::log_entry(2)), 1u);
    for (const auto& [k, v] : dump(*child)) EXPECT_NE(k[0], keys::kLog) << to_hex(k);
    StateMachine reread(*parent_);
    auto pi = reread.load_applied_index();
    ASSERT_TRUE(pi.is_ok());
    EXPECT_EQ(*pi, i);
    EXPECT_TRUE(same_range(reread.range(), range_of(1, "", cut, 2)));
    Driver c(*child);
    EXPECT_EQ(c.sm().applied_index(), 0u);
    EXPECT_TRUE(same_range(c.sm().range(), range_of(2, cut, "", 2)));

    // An upper-half key now belongs to the child only; a lower-half one to
    // the parent only.
    std::string up_key, low_key;
    for (int dir = 0; dir < 12; ++dir) {
        const std::string k = fmt::format("d{:02}/new", dir);
        (meta::placement_key("photos", k) >= cut ? up_key : low_key) = k;
    }
    ASSERT_FALSE(up_key.empty());
    ASSERT_FALSE(low_key.empty());
    EXPECT_EQ(d.object("photos", up_key).code(), Errc::stale_epoch);
    EXPECT_TRUE(c.object("photos", up_key).is_ok());
    EXPECT_EQ(c.sm().applied_index(), 1u);
    EXPECT_TRUE(d.object("photos", low_key).is_ok());
    EXPECT_EQ(c.object("photos", low_key).code(), Errc::stale_epoch);
}

TEST_P(SplitTest, ReplayAfterACrashBeforeTheParentBatchCutsOnlyTheParent) {
    set_range(*parent_, range_of(1, "", "", 1));
    Driver d(*parent_, &host_);
    populate(d, *parent_);
    const std::string cut = middle_cut(d.pk_of());
    const auto before = dump_records(*parent_);
    const uint64_t i = d.sm().applied_index() + 1;
    // The parent as it was before the split: what a crash before its batch
    // was durable leaves (the child's batch was synced, the parent's lost).
    auto restored = copy_of(*parent_, kind(), path("parent-before-split"));

    ASSERT_TRUE(d.apply(split(cut, 2)).status.is_ok());
    storage::Engine* child = host_.child(2);
    ASSERT_NE(child, nullptr);
    // The child serves and writes before the parent replays.
    Driver c(*child);
    std::string up_key;
    for (int n = 0; up_key.empty(); ++n) {
        const std::string k = fmt::format("d{:02}/later", n % 12) + std::to_string(n);
        if (meta::placement_key("logs", k) >= cut) up_key = k;
    }
    ASSERT_TRUE(c.object("logs", up_key).is_ok());
    const auto child_state = dump(*child);

    Driver replay(*restored, &host_);
    ASSERT_EQ(replay.sm().applied_index(), i - 1);
    ApplyOutcome out = replay.apply(split(cut, 2));
    ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
    ASSERT_TRUE(out.child.has_value());
    EXPECT_TRUE(same_range(*out.child, range_of(2, cut, "", 2)));
    EXPECT_EQ(host_.create_calls, 2);
    EXPECT_EQ(host_.child(2), child) << "the ready child is not made again";
    EXPECT_EQ(dump(*child), child_state);
    EXPECT_EQ(dump_records(*restored), expected_half(before, d.pk_of(), "", cut));
    EXPECT_EQ(dump(*restored), dump(*parent_));
}

TEST_P(SplitTest, AChildNeverReportedReadyIsMadeAgain) {
    set_range(*parent_, range_of(1, "", "", 1));
    const std::string cut = [&] {
        Driver d(*parent_);
        populate(d, *parent_);
        return middle_cut(d.pk_of());
    }();
    const auto before = dump(*parent_);
    uint64_t applied = 0;

    // The host fails (a crash) after the child's batch, before it is ready:
    // the apply stops and the parent is untouched.
    host_.fail_next_ready = true;
    {
        StateMachine sm(*parent_, &host_);
        ASSERT_TRUE(sm.load_applied_index().is_ok());
        applied = sm.applied_index();
        auto r = sm.apply(applied + 1, split(cut, 2));
        ASSERT_FALSE(r.is_ok());
        EXPECT_EQ(r.status().code(), Errc::io_error);
        EXPECT_EQ(sm.applied_index(), applied);
    }
    EXPECT_EQ(dump(*parent_), before);
    EXPECT_FALSE(host_.ready(2));

    // The restarted apply loop makes the child again, from the same parent.
    Driver again(*parent_, &host_);
    ASSERT_EQ(again.sm().applied_index(), applied);
    ASSERT_TRUE(again.apply(split(cut, 2)).status.is_ok());
    EXPECT_EQ(host_.create_calls, 2);
    ASSERT_TRUE(host_.ready(2));
    Driver c(*host_.child(2));
    EXPECT_EQ(c.sm().applied_index(), 0u);
    EXPECT_TRUE(same_range(c.sm().range(), range_of(2, cut, "", 2)));
}

TEST_P(SplitTest, BadSplitsAreRefusedAndChangeNothing) {
    set_range(*parent_, range_of(5, "\x20", "\x60", 4));
    Driver d(*parent_, &host_);
    ASSERT_TRUE(d.bucket("b").is_ok());
    const auto before = dump_records(*parent_);
    const struct {
        std::string key;
        uint64_t new_shard;
    } bad[] = {
        {"\x10", 6},  // below the range
        {"\x20", 6},  // at its start: the parent would keep nothing
        {"\x60", 6},  // at its end: the child would get nothing
        {"\x70", 6},  // above
        {"", 6},      // -infinity
        {"\x40", 5},  // the shard's own id
        {"\x40", 0},  // no id
    };
    for (const auto& b : bad) {
        ApplyOutcome out = d.apply(split(b.key, b.new_shard));
        EXPECT_EQ(out.status.code(), Errc::invalid_argument)
            << to_hex(b.key) << " " << b.new_shard << ": " << out.status.to_string();
        EXPECT_FALSE(out.child.has_value());
    }
    EXPECT_EQ(host_.create_calls, 0);
    EXPECT_TRUE(same_range(d.sm().range(), range_of(5, "\x20", "\x60", 4)));
    EXPECT_EQ(dump_records(*parent_), before);

    // Without a host, even a good split is refused.
    Driver hostless(*parent_);
    ApplyOutcome out = hostless.apply(split("\x40", 6));
    EXPECT_EQ(out.status.code(), Errc::invalid_argument);
    EXPECT_EQ(out.status.message(), "this shard cannot split: no split host");
    auto loaded = hostless.sm().load_range();
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_TRUE(same_range(*loaded, range_of(5, "\x20", "\x60", 4)));

    // A good one, for contrast.
    ASSERT_TRUE(d.sm().load_applied_index().is_ok());
    EXPECT_TRUE(d.apply(split("\x40", 6)).status.is_ok());
    EXPECT_TRUE(same_range(d.sm().range(), range_of(5, "\x20", "\x40", 5)));
}

// A replica that installs an image taken after a split refuses what its
// peers refuse: the range travels with the image.
TEST_P(SplitTest, SnapshotImageCarriesTheRange) {
    set_range(*parent_, range_of(1, "", "", 1));
    Driver d(*parent_, &host_);
    populate(d, *parent_);
    const std::string cut = middle_cut(d.pk_of());
    ASSERT_TRUE(d.apply(split(cut, 2)).status.is_ok());
    auto image = build_image(*parent_, nullptr);
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();

    auto follower = open(kind(), path("follower"));
    ASSERT_TRUE(install_image(*follower, *image, d.sm().applied_index()).is_ok());
    Driver f(*follower);
    EXPECT_TRUE(same_range(f.sm().range(), range_of(1, "", cut, 2)));
    EXPECT_EQ(dump_records(*follower), dump_records(*parent_));

    // And an image without one (never split) makes the installer own everything.
    auto fresh = open(kind(), path("fresh"));
    auto empty_image = build_image(*fresh, nullptr);
    ASSERT_TRUE(empty_image.is_ok());
    ASSERT_TRUE(install_image(*follower, *empty_image, 1).is_ok());
    ASSERT_TRUE(f.sm().load_applied_index().is_ok());
    EXPECT_TRUE(same_range(f.sm().range(), ShardDescriptor{}));
}

INSTANTIATE_TEST_SUITE_P(Engines, SplitTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cleave::shard
