#include "storage/memory/memory_engine.h"

#include "storage/dump.h"
#include "storage/engine_util.h"

namespace cleave::storage {

namespace {

using Map = std::map<std::string, std::string, std::less<>>;

void apply_batch(Map& map, const WriteBatch& batch) {
    for (const auto& op : batch.ops()) {
        switch (op.type) {
            case WriteBatch::OpType::put:
                map.insert_or_assign(op.key, op.value);
                break;
            case WriteBatch::OpType::del:
                map.erase(op.key);
                break;
            case WriteBatch::OpType::delete_range:
                if (op.key < op.value) {
                    map.erase(map.lower_bound(op.key), map.lower_bound(op.value));
                }
                break;
        }
    }
}

class MemorySnapshot final : public Snapshot {
  public:
    explicit MemorySnapshot(std::shared_ptr<const Map> map) : map_(std::move(map)) {}
    const std::shared_ptr<const Map>& map() const { return map_; }

  private:
    const std::shared_ptr<const Map> map_;
};

const MemorySnapshot& as_memory(const Snapshot* s) {
    auto* m = dynamic_cast<const MemorySnapshot*>(s);
    CLEAVE_ASSERT(m != nullptr, "snapshot from another engine kind given to the memory engine");
    return *m;
}

// Iterates over an immutable map, so its views stay valid as long as it lives.
class MemoryIterator final : public Iterator {
  public:
    MemoryIterator(std::shared_ptr<const Map> map, IterOptions options)
        : map_(std::move(map)),
          lower_(std::move(options.lower_bound)),
          upper_(std::move(options.upper_bound)),
          it_(map_->end()) {}

    void seek_to_first() override { position(map_->lower_bound(lower_)); }
    void seek(std::string_view target) override {
        position(target < lower_ ? map_->lower_bound(lower_) : map_->lower_bound(target));
    }
    bool valid() const override { return it_ != map_->end(); }
    void next() override {
        CLEAVE_ASSERT(valid(), "next() on an invalid iterator");
        position(std::next(it_));
    }
    std::string_view key() const override {
        CLEAVE_ASSERT(valid(), "key() on an invalid iterator");
        return it_->first;
    }
    std::string_view value() const override {
        CLEAVE_ASSERT(valid(), "value() on an invalid iterator");
        return it_->second;
    }
    Status status() const override { return Status::ok(); }

  private:
    void position(Map::const_iterator it) {
        it_ = it;
        if (it_ != map_->end() && upper_ && it_->first >= *upper_) it_ = map_->end();
    }

    const std::shared_ptr<const Map> map_;
    const std::string lower_;
    const std::optional<std::string> upper_;
    Map::const_iterator it_;
};

}  // namespace

MemoryDisk::MemoryDisk() : live_(std::make_shared<Map>()) {}

void MemoryDisk::drop_unsynced() {
    std::lock_guard lock(mu_);
    // A new map rather than an assignment into live_: snapshots may share it.
    live_ = std::make_shared<Map>(durable_);
    unsynced_.clear();
}

size_t MemoryDisk::unsynced_batches() const {
    std::lock_guard lock(mu_);
    return unsynced_.size();
}

void MemoryDisk::set_fail_writes(bool fail) {
    std::lock_guard lock(mu_);
    fail_writes_ = fail;
}

MemoryEngine::MemoryEngine(std::shared_ptr<MemoryDisk> disk) : disk_(std::move(disk)) {
    CLEAVE_ASSERT(disk_ != nullptr, "MemoryEngine needs a disk");
}

MemoryEngine::MemoryEngine() : MemoryEngine(std::make_shared<MemoryDisk>()) {}

std::shared_ptr<const MemoryDisk::Map> MemoryEngine::current() const {
    std::lock_guard lock(disk_->mu_);
    return disk_->live_;
}

Result<std::optional<std::string>> MemoryEngine::get(std::string_view key,
                                                     const Snapshot* snapshot) {
    std::shared_ptr<const Map> map = snapshot ? as_memory(snapshot).map() : current();
    auto it = map->find(key);
    if (it == map->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
}

Status MemoryEngine::write(const WriteBatch& batch, const WriteOptions& options) {
    CLEAVE_RETURN_IF_ERROR(validate_batch(batch));
    std::lock_guard lock(disk_->mu_);
    if (disk_->fail_writes_) return Status::io_error("memory disk: injected write failure");
    // Copy on write: a snapshot or iterator may hold the current map. Only
    // holders that got the pointer under this mutex can share it, so a count
    // of one means nobody else can see the map change.
    if (disk_->live_.use_count() > 1) disk_->live_ = std::make_shared<Map>(*disk_->live_);
    apply_batch(*disk_->live_, batch);
    if (options.sync) {
        for (const auto& b : disk_->unsynced_) apply_batch(disk_->durable_, b);
        disk_->unsynced_.clear();
        apply_batch(disk_->durable_, batch);
    } else {
        disk_->unsynced_.push_back(batch);
    }
    return Status::ok();
}

std::unique_ptr<Iterator> MemoryEngine::iterate(const IterOptions& options) {
    std::shared_ptr<const Map> map =
        options.snapshot ? as_memory(options.snapshot).map() : current();
    return std::make_unique<MemoryIterator>(std::move(map), options);
}

std::unique_ptr<Snapshot> MemoryEngine::snapshot() {
    return std::make_unique<MemorySnapshot>(current());
}

Status MemoryEngine::sync() {
    std::lock_guard lock(disk_->mu_);
    if (disk_->fail_writes_) return Status::io_error("memory disk: injected sync failure");
    for (const auto& b : disk_->unsynced_) apply_batch(disk_->durable_, b);
    disk_->unsynced_.clear();
    return Status::ok();
}

Status MemoryEngine::checkpoint(const std::string& dir) {
    MemoryIterator it(current(), IterOptions{});
    return write_dump(it, dir);
}

Result<std::unique_ptr<MemoryEngine>> MemoryEngine::open_checkpoint(const std::string& dir) {
    auto disk = std::make_shared<MemoryDisk>();
    CLEAVE_RETURN_IF_ERROR(read_dump(dir, [&](std::string_view k, std::string_view v) {
        disk->durable_.insert_or_assign(std::string(k), std::string(v));
        return Status::ok();
    }));
    *disk->live_ = disk->durable_;
    return std::make_unique<MemoryEngine>(std::move(disk));
}

Result<uint64_t> MemoryEngine::approximate_size(std::string_view begin, std::string_view end) {
    std::shared_ptr<const Map> map = current();
    uint64_t total = 0;
    if (!(begin < end)) return total;
    for (auto it = map->lower_bound(begin); it != map->end() && it->first < end; ++it) {
        total += it->first.size() + it->second.size();
    }
    return total;
}

}  // namespace cleave::storage
