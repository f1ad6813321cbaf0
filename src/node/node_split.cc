// Node: data shards split off the first one (split_groups.h) — the
// service's local routes to them and `cleave admin split` on a cluster.

#include <algorithm>

#include <fmt/ranges.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/logging.h"
#include "multiraft/wire.h"
#include "node/node.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"
#include "shard/split_key.h"

namespace cleave::node {

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("node");
    return l;
}

std::string descriptor_json(const shard::ShardDescriptor& d) {
    std::string replicas;
    for (int i = 0; i < d.replicas_size(); ++i)
        replicas += fmt::format("{}{}", i ? "," : "", d.replicas(i));
    return fmt::format(
        "{{\"id\":{},\"start\":\"{}\",\"end\":\"{}\",\"epoch\":{},\"replicas\":[{}]}}", d.id(),
        to_hex(d.start()), to_hex(d.end()), d.epoch(), replicas);
}

}  // namespace

std::optional<service::ShardRoute> Node::local_route(uint64_t id) {
    service::ShardRoute r;
    r.id = id;
    if (id == kShard.value()) {
        // The first data shard: its serving path (local while this node is
        // a member of the group, remote otherwise).
        r.engine = &serving_->engine();
        r.replica = &serving_->replica();
        r.checks_owner = !serving_->local();  // a remote view: its replica checks
        return r;
    }
    auto here = data_replica_of(GroupId{id});
    if (!here || !here->member) return std::nullopt;
    r.engine = here->engine;
    r.replica = here->replica;
    return r;
}

void Node::check_split_membership() {
    for (GroupId g : split_groups_->ids()) {
        HostedChild* c = split_groups_->find(g);
        const multiraft::GroupStatus st = host_->status(g);
        if (st.replicas.empty()) continue;  // a learner before its first snapshot
        const bool in_config = std::any_of(st.replicas.begin(), st.replicas.end(),
                                           [&](const auto& r) { return r.node == config_.id; });
        // One way: a removed replica's own configuration may still list it
        // (it never heard the final one); only placement hosting it again
        // (host_learner) makes it a member again.
        if (!in_config && !c->left.exchange(true))
            log()->warn("this node's replica left shard {}", g.value());
    }
}

void Node::host_missing_shards() {
    std::vector<shard::ShardDescriptor> map;
    {
        std::lock_guard lock(placement_mu_);
        map = data_map_cache_;
    }
    std::set<uint64_t> missing;
    for (const auto& d : map) {
        if (d.id() == kShard.value() || split_groups_->find(GroupId{d.id()})) continue;
        if (std::find(d.replicas().begin(), d.replicas().end(), config_.id.value()) ==
            d.replicas().end())
            continue;
        // A replica here whose own range still covers the shard has not
        // applied the Split yet: it will make the shard from its own data.
        bool parent_here = false;
        for (const DataReplica& r : data_replicas_here()) {
            if (!r.in_group) continue;  // a removed replica never applies the Split
            auto range = shard::read_range(*r.engine);
            if (range.is_ok() && *range && shard::range_contains(**range, d.start()))
                parent_here = true;
        }
        if (!parent_here) missing.insert(d.id());
    }
    // Twice in a row: a Split applying right now makes it the cheap way.
    std::set<uint64_t> again;
    std::set_intersection(missing.begin(), missing.end(), missing_shards_.begin(),
                          missing_shards_.end(), std::inserter(again, again.end()));
    missing_shards_ = missing;
    for (uint64_t id : again) {
        Status s = split_groups_->host_learner(id);
        if (!s.is_ok()) {
            log()->warn("shard {}: cannot host the replica the map places here: {}", id,
                        s.to_string());
            continue;
        }
        log()->warn("shard {}: the map places a replica here that never was: hosting it empty", id);
    }
}

void Node::record_split_children() {
    for (GroupId g : split_groups_->ids()) {
        if (host_->leader(g) != config_.id) continue;
        {
            std::lock_guard lock(placement_mu_);
            if (data_map_cache_.empty() ||
                std::any_of(data_map_cache_.begin(), data_map_cache_.end(),
                            [&](const auto& d) { return d.id() == g.value(); }))
                continue;
        }
        HostedChild* c = split_groups_->find(g);
        auto range = shard::read_range(*c->engine);
        if (!range.is_ok() || !*range) continue;
        shard::Command put;
        put.set_time_ms(SystemClock::instance().now_unix_ms());
        *put.mutable_put_shard()->mutable_shard() = **range;
        put.mutable_put_shard()->set_only_if_absent(true);
        auto r = meta_serving_->replica().propose(std::move(put));
        if (r.is_ok() && r->status.is_ok())
            log()->warn("shard map: recorded shard {}, split off but never recorded", g.value());
    }
}

Result<std::string> Node::split_key_here(GroupId group) {
    storage::Engine* e = nullptr;
    if (auto r = data_replica_of(group); r && r->member) e = r->engine;
    if (!e) return Status::not_found(fmt::format("no replica of shard {} here", group.value()));
    CLEAVE_ASSIGN_OR_RETURN(auto own, shard::read_range(*e));
    CLEAVE_ASSIGN_OR_RETURN(auto key,
                            shard::choose_split_key(*e, own.value_or(shard::ShardDescriptor())));
    if (!key)
        return Status::invalid_argument(
            fmt::format("shard {} holds too few objects to split", group.value()));
    return *key;
}

void Node::report_loads(shard::NodeRecord& n, int64_t now) {
    std::vector<std::pair<GroupId, storage::Engine*>> led;
    for (const DataReplica& r : data_replicas_here())
        if (host_->leader(r.id) == config_.id) led.push_back({r.id, r.engine});
    for (const auto& [g, engine] : led) {
        const uint64_t applied = host_->status(g).applied;
        LoadMark& mark = load_marks_[g.value()];
        auto* load = n.add_shards();
        load->set_shard(g.value());
        load->set_measured_ms(now);
        // The objects' weight (shard::shard_bytes, what a split halves),
        // measured again only when the shard applied something: it reads
        // the whole shard.
        if (applied != mark.applied || mark.ms == 0) {
            if (auto bytes = shard::shard_bytes(*engine); bytes.is_ok()) mark.bytes = *bytes;
        }
        load->set_size_bytes(mark.bytes);
        if (mark.ms != 0 && now > mark.ms && applied >= mark.applied)
            load->set_writes_per_s(static_cast<double>(applied - mark.applied) * 1000.0 /
                                   static_cast<double>(now - mark.ms));
        mark.ms = now;
        mark.applied = applied;
    }
}

Result<std::string> Node::split_shard(uint64_t id, std::optional<std::string> key) {
    CLEAVE_ASSIGN_OR_RETURN(auto map, refresh_shard_map());
    auto it = std::find_if(map.begin(), map.end(), [&](const auto& d) { return d.id() == id; });
    if (it == map.end() || id == kMeta.value())
        return Status::invalid_argument(fmt::format("no data shard {} in the shard map", id));
    const shard::ShardDescriptor parent = *it;
    uint64_t child = kShard.value() + 1;
    for (const auto& d : map) child = std::max(child, d.id() + 1);

    if (!key) {
        // Halving needs the data: a replica of the shard chooses (this one
        // when it holds one).
        Status last = Status::unavailable("no replica answered");
        std::vector<uint64_t> ask(parent.replicas().begin(), parent.replicas().end());
        std::stable_partition(ask.begin(), ask.end(),
                              [&](uint64_t n) { return n == config_.id.value(); });
        for (uint64_t n : ask) {
            const std::string req =
                std::string(1, multiraft::wire::kSplitKey) + shard::keys::be64(id);
            auto r = n == config_.id.value() ? split_key_here(GroupId{id})
                                             : remote_->call(n, req, std::chrono::seconds(30));
            if (r.is_ok()) {
                key = std::move(*r);
                break;
            }
            last = r.status();
            if (last.code() == Errc::invalid_argument) return last;  // too few objects
        }
        if (!key) return last;
    }

    // The Split, through the shard's leader; its voters go with it, so every
    // replica starts the new shard's group with the same set.
    const std::vector<service::ShardRoute> table = routing_->table();
    auto route =
        std::find_if(table.begin(), table.end(), [&](const auto& r) { return r.id == id; });
    if (route == table.end()) return Status::unavailable(fmt::format("no route to shard {}", id));
    // The voters as the leader's configuration has them (the map may trail
    // a move by a round): every one of them applies the Split.
    std::vector<uint64_t> voters(parent.replicas().begin(), parent.replicas().end());
    if (const uint64_t leader = group_leader(GroupId{id}); leader != 0) {
        if (auto gr = group_report(leader, GroupId{id}); gr && gr->role() == "leader") {
            std::vector<uint64_t> in_config;
            for (const auto& m : gr->replicas())
                if (m.voter()) in_config.push_back(m.node());
            if (!in_config.empty()) voters = std::move(in_config);
        }
    }
    shard::Command c;
    c.set_time_ms(SystemClock::instance().now_unix_ms());
    c.mutable_split()->set_key(*key);
    c.mutable_split()->set_new_shard(child);
    for (uint64_t v : voters) c.mutable_split()->add_voters(v);
    CLEAVE_ASSIGN_OR_RETURN(auto outcome, route->replica->propose(std::move(c)));
    CLEAVE_RETURN_IF_ERROR(outcome.status);

    // The map: the new shard first (until then its keys route to the
    // parent, which refuses them: clients retry), then the parent's cut.
    shard::ShardDescriptor born = parent;
    born.set_id(child);
    born.set_start(*key);
    born.set_epoch(parent.epoch() + 1);
    born.clear_replicas();
    for (uint64_t v : voters) born.add_replicas(v);
    shard::ShardDescriptor cut = parent;
    cut.set_end(*key);
    cut.set_epoch(parent.epoch() + 1);
    for (const auto& d : {born, cut}) {
        shard::Command put;
        put.set_time_ms(SystemClock::instance().now_unix_ms());
        *put.mutable_put_shard()->mutable_shard() = d;
        CLEAVE_ASSIGN_OR_RETURN(auto recorded, meta_serving_->replica().propose(std::move(put)));
        CLEAVE_RETURN_IF_ERROR(recorded.status);
    }
    (void)refresh_shard_map();
    log()->info("shard {} split at {}: shard {} {}", id, to_hex(*key), child,
                shard::describe_range(born));
    return fmt::format("{{\"split\":{},\"new\":{}}}\n", id, descriptor_json(born));
}

}  // namespace cleave::node
