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
                         Remote& remote, NodeId self, std::function<void()> on_install)
    : data_dir_(std::move(data_dir)),
      engine_options_(std::move(engine)),
      host_(host),
      remote_(remote),
      self_(self),
      on_install_(std::move(on_install)) {}

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

namespace {

Status write_hosted(const std::string& dir, const std::set<NodeId>& voters) {
    // Durable before the group exists: a restart hosts it again.
    const std::string tmp = dir + "/HOSTED.tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (NodeId v : voters) out << v.value() << "\n";
        out.flush();
        if (!out) return Status::io_error("write " + tmp);
    }
    std::error_code ec;
    fs::rename(tmp, dir + "/HOSTED", ec);
    if (ec) return Status::io_error(fmt::format("rename {}: {}", tmp, ec.message()));
    return Status::ok();
}

}  // namespace

Status SplitGroups::host_learner(uint64_t id) {
    std::lock_guard making(make_mu_);
    {
        std::lock_guard lock(mu_);
        if (auto it = children_.find(id); it != children_.end()) {
            it->second->left.store(false);
            return Status::ok();
        }
        // A Split applying right now makes it (this node holds the parent):
        // whether it keeps it depends on the Split's voters, so ask again
        // once that is decided.
        if (pending_.count(id))
            return Status::unavailable(fmt::format("shard {} is being split off here", id));
    }
    std::error_code ec;
    fs::remove_all(dir_of(id), ec);
    fs::create_directories(dir_of(id), ec);
    if (ec) return Status::io_error(fmt::format("create {}: {}", dir_of(id), ec.message()));
    storage::EngineOptions eo = engine_options_;
    eo.path = dir_of(id) + "/engine";
    CLEAVE_ASSIGN_OR_RETURN(auto engine, storage::open_engine(eo));
    // No voters: the leader's snapshot brings the configuration.
    CLEAVE_RETURN_IF_ERROR(write_hosted(dir_of(id), {}));
    CLEAVE_RETURN_IF_ERROR(host(id, std::move(engine), {}, /*running=*/true));
    log()->info("shard {}: hosting a new replica (catches up from its leader)", id);
    return Status::ok();
}

Result<storage::Engine*> SplitGroups::create_child(uint64_t child, storage::Engine& parent) {
    std::lock_guard making(make_mu_);
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
    if (!voters.count(self_)) {
        // Not one of the voters (a learner, a replica being removed from the
        // parent): keep no copy.
        engine.reset();
        std::error_code ec;
        fs::remove_all(dir_of(child), ec);
        return Status::ok();
    }
    // The group first (its base snapshot is durable once this returns),
    // then HOSTED: a crash in between leaves a directory without HOSTED,
    // which a restart discards, and the parent's replay of Split makes the
    // same child again (the same base snapshot, the same voters).
    CLEAVE_RETURN_IF_ERROR(
        host(child, std::move(engine), voters, /*running=*/true, /*inherited=*/true));
    CLEAVE_RETURN_IF_ERROR(write_hosted(dir_of(child), voters));
    log()->info("shard {} split off here: {}", child,
                range ? shard::describe_range(*range) : std::string("?"));
    return Status::ok();
}

Status SplitGroups::host(uint64_t id, std::unique_ptr<storage::Engine> engine,
                         const std::set<NodeId>& voters, bool running, bool inherited) {
    auto c = std::make_unique<HostedChild>();
    c->id = GroupId{id};
    c->engine = std::move(engine);
    CLEAVE_ASSIGN_OR_RETURN(c->group, ShardGroup::open(*c->engine, this));
    if (on_install_) c->group->set_on_install(on_install_);
    if (inherited) {
        // The state did not come from the child's log: its group starts from
        // a snapshot of it, which a replica added later receives.
        CLEAVE_ASSIGN_OR_RETURN(auto image, c->group->snapshot());
        const multiraft::Host::BaseState base{image.first, std::move(image.second)};
        CLEAVE_RETURN_IF_ERROR(host_.add_group_running(c->id, *c->group, voters, &base));
    } else if (running) {
        CLEAVE_RETURN_IF_ERROR(host_.add_group_running(c->id, *c->group, voters));
    } else {
        CLEAVE_RETURN_IF_ERROR(host_.add_group(c->id, voters, *c->group));
    }
    c->replica = std::make_unique<RaftReplica>(host_, remote_, self_, c->id);
    if (left_check_) c->replica->set_left_check([this, id] { return left_check_(id); });
    std::lock_guard lock(mu_);
    children_[id] = std::move(c);
    return Status::ok();
}

}  // namespace cleave::node
