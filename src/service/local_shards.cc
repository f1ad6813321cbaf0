#include "service/local_shards.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "common/logging.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"
#include "shard/split_key.h"

namespace cleave::service {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("service");
    return l;
}

// The shard's own range record; absent = every key (a shard never split).
Result<shard::ShardDescriptor> read_range(storage::Engine& engine, uint64_t id) {
    CLEAVE_ASSIGN_OR_RETURN(auto raw, shard::read_range(engine));
    if (raw) return *raw;
    shard::ShardDescriptor whole;
    whole.set_id(id);
    return whole;
}

Status fsync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags);
    if (fd < 0) return Status::io_error(fmt::format("open {}: {}", path, std::strerror(errno)));
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Status::io_error(fmt::format("fsync {}: {}", path, std::strerror(errno)));
    return Status::ok();
}

}  // namespace

LocalShards::LocalShards(LocalShardsOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<LocalShards>> LocalShards::open(LocalShardsOptions options) {
    auto s = std::unique_ptr<LocalShards>(new LocalShards(std::move(options)));
    CLEAVE_RETURN_IF_ERROR(s->open_all());
    if (s->options_.split_bytes > 0 || s->options_.split_writes_per_s > 0)
        s->split_thread_ = std::thread([p = s.get()] { p->split_loop(); });
    return s;
}

LocalShards::~LocalShards() { stop(); }

std::string LocalShards::engine_dir(uint64_t id) const {
    if (id == 1) return options_.data_dir + "/engine";
    return fmt::format("{}/shards/{}/engine", options_.data_dir, id);
}

Result<std::unique_ptr<storage::Engine>> LocalShards::open_engine_at(const std::string& dir) {
    storage::EngineOptions eo = options_.engine;
    eo.path = dir;
    return storage::open_engine(eo);
}

Result<std::vector<uint64_t>> LocalShards::read_manifest() {
    const std::string path = options_.data_dir + "/shards/MANIFEST";
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::vector<uint64_t>{1};
    std::ifstream in(path);
    std::vector<uint64_t> ids;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        char* end = nullptr;
        const uint64_t id = std::strtoull(line.c_str(), &end, 10);
        if (id == 0 || *end != '\0')
            return Status::corruption(fmt::format("{}: bad line '{}'", path, line));
        ids.push_back(id);
    }
    if (in.bad()) return Status::io_error(fmt::format("read {}", path));
    if (std::find(ids.begin(), ids.end(), 1) == ids.end())
        return Status::corruption(fmt::format("{} does not list shard 1", path));
    return ids;
}

Status LocalShards::write_manifest(const std::vector<uint64_t>& ids) {
    const std::string dir = options_.data_dir + "/shards";
    const std::string tmp = dir + "/MANIFEST.tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (uint64_t id : ids) out << id << "\n";
        out.flush();
        if (!out) return Status::io_error("write " + tmp);
    }
    CLEAVE_RETURN_IF_ERROR(fsync_path(tmp, O_RDONLY));
    std::error_code ec;
    fs::rename(tmp, dir + "/MANIFEST", ec);
    if (ec) return Status::io_error(fmt::format("rename {}: {}", tmp, ec.message()));
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

Status LocalShards::open_all() {
    std::error_code ec;
    fs::create_directories(options_.data_dir + "/shards", ec);
    if (ec) return Status::io_error("create " + options_.data_dir + "/shards: " + ec.message());
    CLEAVE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, read_manifest());
    // A child copied but never reported ready before a crash holds nothing
    // of its own: its parent's replay makes it again.
    for (const auto& entry : fs::directory_iterator(options_.data_dir + "/shards", ec)) {
        if (!entry.is_directory()) continue;
        const uint64_t id = std::strtoull(entry.path().filename().c_str(), nullptr, 10);
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) fs::remove_all(entry.path(), ec);
    }
    {
        std::lock_guard lock(mu_);
        listed_ = ids;
    }
    // Engines first, then replicas: a parent's replay may re-apply a Split
    // whose child must already be known (create_child then leaves it be).
    std::map<uint64_t, std::unique_ptr<storage::Engine>> engines;
    for (uint64_t id : ids) {
        CLEAVE_ASSIGN_OR_RETURN(auto e, open_engine_at(engine_dir(id)));
        engines[id] = std::move(e);
    }
    {
        // Shard 1 of a store that never split has no range record: it gets
        // the whole keyspace at epoch 1, so its descriptors and splits name it.
        storage::Engine& first = *engines.at(1);
        CLEAVE_ASSIGN_OR_RETURN(auto raw, shard::read_range(first));
        if (!raw) {
            shard::ShardDescriptor whole;
            whole.set_id(1);
            whole.set_epoch(1);
            storage::WriteBatch b;
            shard::StateMachine::put_range(b, whole);
            CLEAVE_RETURN_IF_ERROR(first.write(b));
        }
    }
    for (auto& [id, engine] : engines) {
        CLEAVE_ASSIGN_OR_RETURN(auto range, read_range(*engine, id));
        shard::LocalReplicaOptions ro = options_.replica;
        ro.split_host = this;
        Shard s;
        s.start = range.start();
        s.engine = std::move(engine);
        // Inserted before the replica opens: its replay may split it.
        storage::Engine& e = *s.engine;
        {
            std::lock_guard lock(mu_);
            shards_[id] = std::move(s);
        }
        CLEAVE_ASSIGN_OR_RETURN(auto replica, shard::LocalReplica::open(e, ro));
        std::lock_guard lock(mu_);
        shards_[id].replica = std::move(replica);
    }
    return Status::ok();
}

std::vector<ShardRoute> LocalShards::table() {
    std::lock_guard lock(mu_);
    std::vector<ShardRoute> out;
    for (auto& [id, s] : shards_) {
        if (!s.replica) continue;  // still opening
        out.push_back({id, s.start, "", s.engine.get(), s.replica.get()});
    }
    std::sort(out.begin(), out.end(),
              [](const ShardRoute& a, const ShardRoute& b) { return a.start < b.start; });
    for (size_t i = 0; i + 1 < out.size(); ++i) out[i].end = out[i + 1].start;
    return out;
}

Result<storage::Engine*> LocalShards::create_child(uint64_t child, storage::Engine& parent) {
    {
        std::lock_guard lock(mu_);
        if (std::find(listed_.begin(), listed_.end(), child) != listed_.end()) return nullptr;
        pending_.erase(child);
    }
    const std::string dir = engine_dir(child);
    CLEAVE_ASSIGN_OR_RETURN(
        auto engine, shard::copy_engine(parent, fs::path(dir).parent_path(), dir, options_.engine));
    storage::Engine* raw = engine.get();
    std::lock_guard lock(mu_);
    pending_[child] = std::move(engine);
    return raw;
}

Status LocalShards::child_ready(uint64_t child) {
    std::unique_ptr<storage::Engine> engine;
    {
        std::lock_guard lock(mu_);
        auto it = pending_.find(child);
        if (it == pending_.end())
            return Status::internal(fmt::format("shard {} was never created", child));
        engine = std::move(it->second);
        pending_.erase(it);
    }
    CLEAVE_ASSIGN_OR_RETURN(auto range, read_range(*engine, child));
    shard::LocalReplicaOptions ro = options_.replica;
    ro.split_host = this;
    CLEAVE_ASSIGN_OR_RETURN(auto replica, shard::LocalReplica::open(*engine, ro));
    std::lock_guard lock(mu_);
    std::vector<uint64_t> ids = listed_;
    ids.push_back(child);
    CLEAVE_RETURN_IF_ERROR(write_manifest(ids));
    listed_ = std::move(ids);
    Shard s;
    s.engine = std::move(engine);
    s.replica = std::move(replica);
    s.start = range.start();
    shards_[child] = std::move(s);
    log()->info("shard {} split off: {}", child, shard::describe_range(range));
    return Status::ok();
}

Result<shard::ShardDescriptor> LocalShards::split(uint64_t id, std::optional<std::string> key) {
    if (options_.engine.kind == "redis")
        return Status(Errc::precondition_failed,
                      "splitting needs an engine that can checkpoint (rocksdb); this store keeps "
                      "its state in Redis");
    std::lock_guard split_lock(split_mu_);
    storage::Engine* engine = nullptr;
    shard::LocalReplica* replica = nullptr;
    uint64_t child = 0;
    {
        std::lock_guard lock(mu_);
        auto it = shards_.find(id);
        if (it == shards_.end() || !it->second.replica)
            return Status::invalid_argument(fmt::format("no shard {}", id));
        engine = it->second.engine.get();
        replica = it->second.replica.get();
        child = *std::max_element(listed_.begin(), listed_.end()) + 1;
    }
    CLEAVE_ASSIGN_OR_RETURN(auto range, read_range(*engine, id));
    if (!key) {
        CLEAVE_ASSIGN_OR_RETURN(key, shard::choose_split_key(*engine, range));
        if (!key)
            return Status::invalid_argument(
                fmt::format("shard {} holds too few objects to split", id));
    }
    shard::Command c;
    c.set_time_ms(0);  // the state machine's only clock; a split needs none
    c.mutable_split()->set_key(*key);
    c.mutable_split()->set_new_shard(child);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, replica->propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);
    if (!outcome.child) return Status::internal("split applied without a child");
    return *outcome.child;
}

Result<std::vector<LocalShardInfo>> LocalShards::describe() {
    std::vector<LocalShardInfo> out;
    for (const ShardRoute& r : table()) {
        LocalShardInfo info;
        CLEAVE_ASSIGN_OR_RETURN(info.range, read_range(*r.engine, r.id));
        info.range.set_id(r.id);
        CLEAVE_ASSIGN_OR_RETURN(info.size_bytes, shard::shard_bytes(*r.engine));
        info.applied_index = static_cast<shard::LocalReplica*>(r.replica)->applied_index();
        out.push_back(std::move(info));
    }
    return out;
}

void LocalShards::split_loop() {
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
        stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.split_check_ms),
                          [&] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        for (const ShardRoute& r : table()) {
            // Measuring reads the whole shard: only a shard that applied
            // something since its last measurement is measured again.
            const uint64_t applied = static_cast<shard::LocalReplica*>(r.replica)->applied_index();
            const int64_t now = SystemClock::instance().now_unix_ms();
            auto& [mark_ms, mark_applied] = rate_mark_[r.id];
            const bool hot = options_.split_writes_per_s > 0 && mark_ms != 0 && now > mark_ms &&
                             applied >= mark_applied &&
                             static_cast<double>(applied - mark_applied) * 1000.0 /
                                     static_cast<double>(now - mark_ms) >
                                 options_.split_writes_per_s;
            mark_ms = now;
            mark_applied = applied;
            uint64_t& seen = measured_at_[r.id];
            if (!hot) {
                if (options_.split_bytes == 0 || (seen == applied && applied != 0)) continue;
                seen = applied;
                auto bytes = shard::shard_bytes(*r.engine);
                if (!bytes.is_ok() || *bytes < options_.split_bytes) continue;
            }
            auto d = split(r.id, std::nullopt);
            if (!d.is_ok() && d.status().code() != Errc::invalid_argument)
                log()->warn("automatic split of shard {} failed: {}", r.id, d.status().to_string());
        }
        lock.lock();
    }
}

void LocalShards::stop() {
    {
        std::lock_guard lock(stop_mu_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    if (split_thread_.joinable()) split_thread_.join();
    std::lock_guard lock(mu_);
    for (auto& [id, s] : shards_)
        if (s.replica) s.replica->stop();
}

Status LocalShards::sync() {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : shards_) CLEAVE_RETURN_IF_ERROR(s.engine->sync());
    return Status::ok();
}

}  // namespace cleave::service
