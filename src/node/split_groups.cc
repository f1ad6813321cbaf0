#include "node/split_groups.h"

#include <filesystem>
#include <fstream>

#include "common/logging.h"
#include "shard/shard_range.h"

namespace cleave::node {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("node");
    return l;
}

}  // namespace

SplitGroups::SplitGroups(std::string data_dir, storage::EngineOptions engine, multiraft::Host& host,
                         Remote& remote, NodeId self)
    : data_dir_(std::move(data_dir)),
      engine_options_(std::move(engine)),
      host_(host),
      remote_(remote),
      self_(self) {}

SplitGroups::~SplitGroups() = default;

std::string SplitGroups::dir_of(uint64_t id) const {
    return fmt::format("{}/shards/{}", data_dir_, id);
}

Status SplitGroups::open_existing() {
    std::error_code ec;
    if (!fs::exists(data_dir_ + "/shards", ec)) return Status::ok();
    for (const auto& entry : fs::directory_iterator(data_dir_ + "/shards", ec)) {
        if (!entry.is_directory()) continue;
        const uint64_t id = std::strtoull(entry.path().filename().c_str(), nullptr, 10);
        std::ifstream hosted(entry.path() / "HOSTED");
        if (id == 0 || !hosted) {
            // An unfinished copy: the parent's replay of Split makes it again.
            fs::remove_all(entry.path(), ec);
            continue;
        }
        std::set<NodeId> voters;
        uint64_t v = 0;
        while (hosted >> v) voters.insert(NodeId{v});
        storage::EngineOptions eo = engine_options_;
        eo.path = dir_of(id) + "/engine";
        CLEAVE_ASSIGN_OR_RETURN(auto engine, storage::open_engine(eo));
        CLEAVE_RETURN_IF_ERROR(host(id, std::move(engine), voters, /*running=*/false));
    }
    return Status::ok();
}

HostedChild* SplitGroups::find(GroupId id) {
    std::lock_guard lock(mu_);
    auto it = children_.find(id.value());
    return it == children_.end() ? nullptr : it->second.get();
}

std::vector<GroupId> SplitGroups::ids() const {
    std::lock_guard lock(mu_);
    std::vector<GroupId> out;
    for (const auto& [id, c] : children_) out.push_back(GroupId{id});
    return out;
}

Result<storage::Engine*> SplitGroups::create_child(uint64_t child, storage::Engine& parent) {
    {
        std::lock_guard lock(mu_);
        if (children_.count(child)) return nullptr;  // made before a crash: leave it be
        pending_.erase(child);
    }
    CLEAVE_ASSIGN_OR_RETURN(
        auto engine,
        shard::copy_engine(parent, dir_of(child), dir_of(child) + "/engine", engine_options_));
    storage::Engine* raw = engine.get();
    std::lock_guard lock(mu_);
    pending_[child] = std::move(engine);
    return raw;
}

Status SplitGroups::child_ready(uint64_t child) {
    std::unique_ptr<storage::Engine> engine;
    {
        std::lock_guard lock(mu_);
        auto it = pending_.find(child);
        if (it == pending_.end())
            return Status::internal(fmt::format("shard {} was never created", child));
        engine = std::move(it->second);
        pending_.erase(it);
    }
    // The voters travel in the Split command, which the state machine put
    // into the child's range record: the same set on every replica.
    CLEAVE_ASSIGN_OR_RETURN(auto range, shard::read_range(*engine));
    std::set<NodeId> voters;
    if (range)
        for (uint64_t v : range->replicas()) voters.insert(NodeId{v});
    if (voters.empty())
        return Status::internal(fmt::format("split into shard {} names no voters", child));
    {
        // Durable before the group exists: a restart hosts it again.
        const std::string tmp = dir_of(child) + "/HOSTED.tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            for (NodeId v : voters) out << v.value() << "\n";
            out.flush();
            if (!out) return Status::io_error("write " + tmp);
        }
        std::error_code ec;
        fs::rename(tmp, dir_of(child) + "/HOSTED", ec);
        if (ec) return Status::io_error(fmt::format("rename {}: {}", tmp, ec.message()));
    }
    if (!voters.count(self_)) {
        // Not one of the voters (a replica being removed from the parent):
        // keep no copy.
        engine.reset();
        std::error_code ec;
        fs::remove_all(dir_of(child), ec);
        return Status::ok();
    }
    CLEAVE_RETURN_IF_ERROR(host(child, std::move(engine), voters, /*running=*/true));
    log()->info("shard {} split off here: {}", child,
                range ? shard::describe_range(*range) : std::string("?"));
    return Status::ok();
}

Status SplitGroups::host(uint64_t id, std::unique_ptr<storage::Engine> engine,
                         const std::set<NodeId>& voters, bool running) {
    auto c = std::make_unique<HostedChild>();
    c->id = GroupId{id};
    c->engine = std::move(engine);
    CLEAVE_ASSIGN_OR_RETURN(c->group, ShardGroup::open(*c->engine, this));
    if (running) {
        CLEAVE_RETURN_IF_ERROR(host_.add_group_running(c->id, *c->group, voters));
    } else {
        CLEAVE_RETURN_IF_ERROR(host_.add_group(c->id, voters, *c->group));
    }
    c->replica = std::make_unique<RaftReplica>(host_, remote_, self_, c->id);
    std::lock_guard lock(mu_);
    children_[id] = std::move(c);
    return Status::ok();
}

}  // namespace cleave::node
