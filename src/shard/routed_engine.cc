#include "shard/routed_engine.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "shard/record_keys.h"
#include "shard/records.pb.h"
#include "shard/shard_range.h"

namespace cleave::shard {

namespace {

// One snapshot per shard, in the order of the table.
class CompositeSnapshot final : public storage::Snapshot {
  public:
    std::vector<std::unique_ptr<storage::Snapshot>> parts;
};

const storage::Snapshot* part_of(const storage::Snapshot* s, size_t i) {
    auto* c = dynamic_cast<const CompositeSnapshot*>(s);
    return c && i < c->parts.size() ? c->parts[i].get() : nullptr;
}

// The first key after every key of family f.
std::string family_end(char f) { return std::string(1, static_cast<char>(f + 1)); }

// An iterator that is only an error.
class FailedIterator final : public storage::Iterator {
  public:
    explicit FailedIterator(Status s) : status_(std::move(s)) {}
    void seek_to_first() override {}
    void seek(std::string_view) override {}
    bool valid() const override { return false; }
    void next() override {}
    std::string_view key() const override { return {}; }
    std::string_view value() const override { return {}; }
    Status status() const override { return status_; }

  private:
    Status status_;
};

// A scan of one keyed family cut into per-shard segments, walked in order.
class ChainIterator final : public storage::Iterator {
  public:
    struct Segment {
        const RoutedShard* shard;
        std::string lo;  // engine keys [lo, hi)
        std::string hi;
        bool hi_is_family_end;  // hi is the family's end, not a shard bound
        const storage::Snapshot* snapshot;
    };
    explicit ChainIterator(std::vector<Segment> segments) : segments_(std::move(segments)) {}

    void seek_to_first() override {
        if (!open(0)) return;
        cur_->seek_to_first();
        settle();
    }
    void seek(std::string_view target) override {
        size_t i = 0;
        while (i + 1 < segments_.size() && segments_[i].hi <= target) ++i;
        if (!open(i)) return;
        cur_->seek(target);
        settle();
    }
    bool valid() const override { return status_.is_ok() && cur_ && cur_->valid(); }
    void next() override {
        cur_->next();
        settle();
    }
    std::string_view key() const override { return cur_->key(); }
    std::string_view value() const override { return cur_->value(); }
    Status status() const override {
        if (!status_.is_ok()) return status_;
        return cur_ ? cur_->status() : Status::ok();
    }

  private:
    bool open(size_t i) {
        cur_.reset();
        idx_ = i;
        if (i >= segments_.size()) return false;
        const Segment& s = segments_[i];
        const storage::Snapshot* snap = s.snapshot;
        if (!snap) {
            own_snapshot_ = s.shard->engine->snapshot();
            snap = own_snapshot_.get();
        }
        Status owned = s.shard->checks_owner
                           ? Status::ok()
                           : check_owns(*s.shard->engine, snap, std::string_view(s.lo).substr(1),
                                        s.hi_is_family_end ? std::string_view()
                                                           : std::string_view(s.hi).substr(1),
                                        s.shard->id);
        if (!owned.is_ok()) {
            status_ = owned;
            return false;
        }
        storage::IterOptions o;
        o.lower_bound = s.lo;
        o.upper_bound = s.hi;
        o.snapshot = snap;
        cur_ = s.shard->engine->iterate(o);
        return true;
    }
    void settle() {
        while (status_.is_ok() && cur_ && !cur_->valid() && cur_->status().is_ok() &&
               idx_ + 1 < segments_.size()) {
            if (!open(idx_ + 1)) return;
            cur_->seek_to_first();
        }
    }

    std::vector<Segment> segments_;
    size_t idx_ = 0;
    std::unique_ptr<storage::Snapshot> own_snapshot_;
    std::unique_ptr<storage::Iterator> cur_;
    Status status_ = Status::ok();
};

}  // namespace

bool is_keyed_family(char family) {
    return family == keys::kObject || family == keys::kMarker || family == keys::kUpload ||
           family == keys::kPart;
}

Status check_owns(storage::Engine& engine, const storage::Snapshot* snapshot, std::string_view lo,
                  std::string_view hi, uint64_t shard) {
    CLEAVE_ASSIGN_OR_RETURN(auto range, read_range(engine, snapshot));
    if (!range) return Status::ok();  // a shard that never split owns everything
    const ShardDescriptor& d = *range;
    // [lo, hi) with hi "" = unbounded, inside [start, end) with end "" = unbounded.
    const bool from = d.start() <= lo;
    const bool to = d.end().empty() || (!hi.empty() && hi <= d.end());
    if (from && to) return Status::ok();
    return Status(
        Errc::stale_epoch,
        fmt::format("shard {} (epoch {}) no longer owns the range read", d.id(), d.epoch()));
}

RoutedEngine::RoutedEngine(std::vector<RoutedShard> shards) : shards_(std::move(shards)) {}

size_t RoutedEngine::owner(std::string_view pk) const {
    // The last shard whose start is <= pk (the first starts at "").
    size_t i = 0;
    while (i + 1 < shards_.size() && shards_[i + 1].start <= pk) ++i;
    return i;
}

size_t RoutedEngine::owner_of_key(std::string_view key) const {
    if (key.empty() || !is_keyed_family(key[0])) return 0;
    return owner(key.substr(1));
}

Result<std::optional<std::string>> RoutedEngine::get(std::string_view key,
                                                     const storage::Snapshot* snapshot) {
    if (shards_.empty()) return Status::unavailable("no shards");
    const size_t i = owner_of_key(key);
    storage::Engine& e = *shards_[i].engine;
    const storage::Snapshot* snap = part_of(snapshot, i);
    std::unique_ptr<storage::Snapshot> own;
    if (!key.empty() && is_keyed_family(key[0]) && !shards_[i].checks_owner) {
        if (!snap) {
            own = e.snapshot();
            snap = own.get();
        }
        // A point: [pk, pk 0x00) is the smallest range holding pk.
        std::string after(key.substr(1));
        after.push_back('\0');
        CLEAVE_RETURN_IF_ERROR(check_owns(e, snap, key.substr(1), after, shards_[i].id));
    }
    return e.get(key, snap);
}

Status RoutedEngine::write(const storage::WriteBatch&, const storage::WriteOptions&) {
    return Status::internal("a routed view of several shards is read-only");
}

std::unique_ptr<storage::Iterator> RoutedEngine::iterate(const storage::IterOptions& options) {
    if (shards_.empty()) return std::make_unique<FailedIterator>(Status::unavailable("no shards"));
    const std::string& lo = options.lower_bound;
    if (lo.empty() || !is_keyed_family(lo[0])) {
        storage::IterOptions o = options;
        o.snapshot = part_of(options.snapshot, 0);
        return shards_[0].engine->iterate(o);
    }
    const char f = lo[0];
    const std::string fend = family_end(f);
    std::string hi = options.upper_bound.value_or(fend);
    if (hi > fend)
        return std::make_unique<FailedIterator>(
            Status::internal("a routed scan must stay inside one key family"));
    std::vector<ChainIterator::Segment> segments;
    for (size_t i = 0; i < shards_.size(); ++i) {
        const RoutedShard& s = shards_[i];
        std::string seg_lo = std::max(lo, keys::with_family(f, s.start));
        const bool open_end = s.end.empty();
        std::string seg_hi = open_end ? hi : std::min(hi, keys::with_family(f, s.end));
        if (seg_lo >= seg_hi) continue;
        const bool to_family_end = seg_hi == fend;
        segments.push_back({&s, std::move(seg_lo), std::move(seg_hi), to_family_end,
                            part_of(options.snapshot, i)});
    }
    if (segments.empty()) {
        // An empty range: any shard's empty scan will do.
        storage::IterOptions o = options;
        o.snapshot = part_of(options.snapshot, 0);
        return shards_[0].engine->iterate(o);
    }
    return std::make_unique<ChainIterator>(std::move(segments));
}

std::unique_ptr<storage::Snapshot> RoutedEngine::snapshot() {
    auto s = std::make_unique<CompositeSnapshot>();
    for (const auto& shard : shards_) s->parts.push_back(shard.engine->snapshot());
    return s;
}

Status RoutedEngine::sync() {
    for (const auto& s : shards_) CLEAVE_RETURN_IF_ERROR(s.engine->sync());
    return Status::ok();
}

Status RoutedEngine::checkpoint(const std::string&) {
    return Status::internal("a routed view has no single checkpoint: checkpoint each shard");
}

Result<uint64_t> RoutedEngine::approximate_size(std::string_view begin, std::string_view end) {
    uint64_t total = 0;
    for (const auto& s : shards_) {
        CLEAVE_ASSIGN_OR_RETURN(uint64_t n, s.engine->approximate_size(begin, end));
        total += n;
    }
    return total;
}

}  // namespace cleave::shard
