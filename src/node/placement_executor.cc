// The placement executor: the meta shard's leader carries out the placement
// driver's plan (meta/placement_driver.h) one step at a time, through the
// data shard's own Raft log, and records each new membership in the shard
// map. Everything it decides on is re-read from the cluster each round, so
// a crash or a leader change between two steps loses nothing: the next
// leader sees the state the last step left and plans from there.
//
//   AddLearner(n)     node n hosts the group (kHostGroup), then the shard's
//                     leader adds it as a learner (kChangeMembership 'L');
//                     it catches up from the leader's log or a snapshot
//   Promote(n)        n fetches every chunk its state references
//                     (kRepairChunks), then the leader makes it a voter
//   RemoveReplica(n)  the leader drops n from the configuration
//
// The meta shard gets the same walk for repair only (no chunks to fetch
// before a promotion; no balancing). Splits are planned by the driver but
// not carried out yet (issue 5).

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/logging.h"
#include "multiraft/wire.h"
#include "node/cluster_view.h"
#include "node/node.h"
#include "node/node.pb.h"
#include "shard/record_keys.h"

#include <fmt/ranges.h>

namespace cleave::node {

namespace {

using std::chrono::milliseconds;

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("placement");
    return l;
}

// A learner within this many entries of the commit index has caught up.
constexpr uint64_t kCaughtUpSlack = 50;

std::string membership_request(GroupId g, char op, uint64_t node) {
    std::string out(1, multiraft::wire::kChangeMembership);
    out += shard::keys::be64(g.value());
    out.push_back(op);
    out += shard::keys::be64(node);
    return out;
}

std::string group_request(char kind, GroupId g) {
    std::string out(1, kind);
    out += shard::keys::be64(g.value());
    return out;
}

}  // namespace

Result<std::string> Node::change_membership(std::string_view body) {
    if (body.size() != 1 + 8 + 1 + 8) return Status::invalid_argument("bad membership request");
    const GroupId g{shard::keys::parse_be64(body.substr(1, 8))};
    const char op = body[9];
    const NodeId node{shard::keys::parse_be64(body.substr(10, 8))};
    const bool here = g == kShard ? hosts_data() : g == kMeta && meta_replica_here() != nullptr;
    if (!here) return Status::not_found(fmt::format("shard {} has no replica here", g.value()));
    const multiraft::GroupStatus st = host_->status(g);
    if (st.leader != config_.id) return not_leader_with_hint(st.leader);
    std::set<NodeId> voters, learners;
    for (const auto& r : st.replicas) (r.voter ? voters : learners).insert(r.node);
    switch (op) {
        case 'L':
            if (voters.count(node) || learners.count(node)) return std::string();
            learners.insert(node);
            break;
        case 'P':
            if (voters.count(node)) return std::string();
            learners.erase(node);
            voters.insert(node);
            break;
        case 'R':
            if (!voters.count(node) && !learners.count(node)) return std::string();
            voters.erase(node);
            learners.erase(node);
            if (voters.empty()) return Status::invalid_argument("would remove the last voter");
            break;
        default:
            return Status::invalid_argument(fmt::format("unknown membership op {:?}", op));
    }
    CLEAVE_RETURN_IF_ERROR(host_->change_membership(g, voters, learners, milliseconds(10000)));
    log()->info("shard {}: membership changed ({} node {})", g.value(), op, node.value());
    return std::string();
}

void Node::placement_loop() {
    const auto period =
        std::chrono::milliseconds(std::clamp<int64_t>(config_.down_after_ms / 3, 200, 5000));
    while (true) {
        {
            std::unique_lock lock(repair_mu_);
            if (repair_cv_.wait_for(lock, period, [&] { return repair_stop_; })) return;
        }
        Status s = placement_step();
        if (!s.is_ok())
            log()->warn("placement step failed (retried next round): {}", s.to_string());
    }
}

Status Node::record_voters(const ClusterView& view, const GroupReport& gr) {
    std::vector<uint64_t> voters;
    for (const auto& m : gr.replicas())
        if (m.voter()) voters.push_back(m.node());
    std::sort(voters.begin(), voters.end());
    for (const auto& d : view.shards) {
        if (d.id() != gr.group()) continue;
        std::vector<uint64_t> recorded(d.replicas().begin(), d.replicas().end());
        std::sort(recorded.begin(), recorded.end());
        if (voters.empty() || voters == recorded) return Status::ok();
        shard::Command c;
        c.set_time_ms(SystemClock::instance().now_unix_ms());
        auto* put = c.mutable_put_shard()->mutable_shard();
        *put = d;
        put->set_epoch(d.epoch() + 1);
        put->clear_replicas();
        for (uint64_t v : voters) put->add_replicas(v);
        CLEAVE_ASSIGN_OR_RETURN(auto outcome, meta_replica_here()->propose(std::move(c)));
        CLEAVE_RETURN_IF_ERROR(outcome.status);
        log()->info("shard map: shard {} epoch {} on nodes {}", d.id(), d.epoch() + 1,
                    fmt::join(voters, ","));
    }
    return Status::ok();
}

Status Node::placement_step() {
    // Only the meta shard's leader decides; it reads its own applied state.
    if (!meta_replica_here() || host_->leader(kMeta) != config_.id) return Status::ok();
    CLEAVE_ASSIGN_OR_RETURN(ClusterView view,
                            read_cluster_view(*meta_engine_, SystemClock::instance().now_unix_ms(),
                                              config_.down_after_ms));
    if (view.shards.empty()) return Status::ok();
    const uint64_t leader = group_leader(kShard);
    if (leader == 0) return Status::ok();  // an election runs: next round

    PlacementCall call = [&](uint64_t node, std::string body,
                             milliseconds timeout) -> Result<std::string> {
        // Our own requests, without the transport.
        if (node == config_.id.value()) return serve_blocking(body);
        return remote_->call(node, std::move(body), timeout);
    };
    // The data shard's configuration as its leader has it (learners and
    // their progress are not in the shard map).
    const std::optional<GroupReport> leads = group_report(leader, kShard);
    if (!leads || leads->role() != "leader")
        return Status(Errc::not_leader, fmt::format("node {} no longer leads", leader));
    const GroupReport& gr = *leads;
    // The shard map follows the group: the voters a step left (whoever
    // carried it out, even a meta leader that died right after) are
    // recorded with the next epoch before anything else is decided.
    CLEAVE_RETURN_IF_ERROR(record_voters(view, gr));

    // Splits (--split-bytes): a shard whose leader measured more than the
    // threshold, and measured it after its last split, is halved; one per
    // round, like every step.
    if (config_.split_bytes > 0) {
        for (const auto& d : view.shards) {
            auto load = view.loads.find(d.id());
            if (load == view.loads.end() || load->second.size_bytes() <= config_.split_bytes)
                continue;
            if (load->second.measured_ms() <= split_at_ms_[d.id()]) continue;
            const int64_t now = SystemClock::instance().now_unix_ms();
            auto done = split_shard(d.id(), std::nullopt);
            split_at_ms_[d.id()] = now;
            if (!done.is_ok()) {
                if (done.status().code() != Errc::invalid_argument)
                    log()->warn("placement: split of shard {} failed: {}", d.id(),
                                done.status().to_string());
                continue;
            }
            log()->info("placement: shard {} holds {} bytes (> {}): split", d.id(),
                        load->second.size_bytes(), config_.split_bytes);
            return Status::ok();
        }
    }
    meta::ClusterState state = driver_state(view);
    for (auto& sh : state.shards) {
        if (sh.id != kShard.value()) continue;
        sh.replicas.clear();
        for (const auto& m : gr.replicas()) {
            sh.replicas.push_back({m.node(), m.voter(), m.match() + kCaughtUpSlack >= gr.commit()});
            if (std::none_of(state.nodes.begin(), state.nodes.end(),
                             [&](const meta::NodeState& n) { return n.id == m.node(); }))
                state.nodes.push_back(meta::NodeState{m.node()});
        }
    }
    // Only the first data shard's replicas move today: shards split off it
    // keep the voters they were born with (split_groups.h), so the driver
    // sees the first shard alone - balancing it against pinned shards would
    // move it for nothing.
    std::erase_if(state.shards, [](const meta::ShardState& sh) { return sh.id != kShard.value(); });
    meta::DriverOptions o;
    o.replication = config_.replicas;
    const meta::Plan plan = meta::plan(state, o);
    const meta::PlannedStep* step = nullptr;
    for (const auto& ps : plan)
        if (!std::holds_alternative<meta::SplitStep>(ps.step)) step = step ? step : &ps;
    if (step) return execute_step(kShard, leader, *step, call);

    // The meta shard (led here): repair only - a dead voter replaced on a
    // live node; its few voters gain nothing from balancing.
    const multiraft::GroupStatus ms = host_->status(kMeta);
    meta::ClusterState mstate;
    mstate.nodes = state.nodes;
    meta::ShardState m0;
    m0.id = kMeta.value();
    for (const auto& r : ms.replicas) {
        m0.replicas.push_back({r.node.value(), r.voter, r.match + kCaughtUpSlack >= ms.commit});
        if (std::none_of(mstate.nodes.begin(), mstate.nodes.end(),
                         [&](const meta::NodeState& n) { return n.id == r.node.value(); }))
            mstate.nodes.push_back(meta::NodeState{r.node.value()});
    }
    mstate.shards.push_back(std::move(m0));
    meta::DriverOptions mo;
    mo.replication = config_.meta_replicas;
    meta::Plan mplan = meta::plan_repair(mstate, mo);
    if (mplan.empty()) mplan = meta::plan_finish_moves(mstate, mo);
    if (mplan.empty()) return Status::ok();
    return execute_step(kMeta, config_.id.value(), mplan.front(), call);
}

Status Node::execute_step(GroupId g, uint64_t leader, const meta::PlannedStep& step,
                          const PlacementCall& call) {
    log()->info("placement: {} of shard {} ({})", meta::describe(step.step), g.value(), step.why);
    const milliseconds kStepTimeout{15000};
    if (const auto* add = std::get_if<meta::AddLearner>(&step.step)) {
        CLEAVE_RETURN_IF_ERROR(
            call(add->node, group_request(multiraft::wire::kHostGroup, g), kStepTimeout).status());
        CLEAVE_RETURN_IF_ERROR(
            call(leader, membership_request(g, 'L', add->node), kStepTimeout).status());
    } else if (const auto* pro = std::get_if<meta::Promote>(&step.step)) {
        // A data replica must hold every chunk before it counts for
        // durability (the meta shard has none).
        if (g == kShard) {
            CLEAVE_RETURN_IF_ERROR(call(pro->node, group_request(multiraft::wire::kRepairChunks, g),
                                        milliseconds(300000))
                                       .status());
        }
        CLEAVE_RETURN_IF_ERROR(
            call(leader, membership_request(g, 'P', pro->node), kStepTimeout).status());
    } else if (const auto* rm = std::get_if<meta::RemoveReplica>(&step.step)) {
        CLEAVE_RETURN_IF_ERROR(
            call(leader, membership_request(g, 'R', rm->node), kStepTimeout).status());
    }
    return Status::ok();
}

}  // namespace cleave::node
