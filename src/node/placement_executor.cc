// The placement executor: the meta shard's leader carries out the placement
// driver's plan (meta/placement_driver.h), one step per shard per round,
// each through that shard's own Raft log, and records each new membership
// in the shard map. Everything it decides on is re-read from the cluster
// each round, so a crash or a leader change between two steps loses
// nothing: the next leader sees the state the last step left and plans
// from there.
//
//   AddLearner(n)     node n hosts the group (kHostGroup), then the shard's
//                     leader adds it as a learner (kChangeMembership 'L');
//                     it catches up from the leader's log or a snapshot
//   Promote(n)        n fetches every chunk its state references
//                     (kRepairChunks), then the leader makes it a voter
//   RemoveReplica(n)  the leader drops n from the configuration; n is told
//                     (kLeftGroup) and the map records the new voters
//
// Every data shard walks it (repair, balance, drain); the meta shard gets
// the same walk for repair only (no chunks to fetch before a promotion; no
// balancing). Splits by size or load are carried out here too
// (split_shard).

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

// A learner within this many entries of the commit index has caught up,
// once it holds anything at all (match 0: nothing acknowledged yet, however
// short the log).
constexpr uint64_t kCaughtUpSlack = 50;
bool caught_up(uint64_t match, uint64_t commit) {
    return match > 0 && match + kCaughtUpSlack >= commit;
}

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
    const bool here = g == kMeta ? meta_replica_here() != nullptr : data_replica_of(g).has_value();
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

    PlacementCall call = [&](uint64_t node, std::string body,
                             milliseconds timeout) -> Result<std::string> {
        // Our own requests, without the transport.
        if (node == config_.id.value()) return serve_blocking(body);
        return remote_->call(node, std::move(body), timeout);
    };
    // Each data shard's configuration as its leader has it (learners and
    // their progress are not in the shard map): every live node's report,
    // asked once per round.
    std::map<uint64_t, GroupReport> leads;  // shard -> its leader's report
    std::map<uint64_t, uint64_t> leader_of;
    for (uint64_t id : known_nodes()) {
        if (auto it = view.live.find(id); it != view.live.end() && !it->second) continue;
        const std::optional<NodeReport> nr = node_report(id);
        if (!nr) continue;
        for (const auto& gr : nr->groups()) {
            if (gr.group() == kMeta.value() || gr.role() != "leader") continue;
            auto it = leads.find(gr.group());
            if (it != leads.end() && it->second.term() >= gr.term()) continue;
            leads[gr.group()] = gr;
            leader_of[gr.group()] = id;
        }
    }
    // The shard map follows the groups: the voters a step left (whoever
    // carried it out, even a meta leader that died right after) are
    // recorded with the next epoch before anything else is decided.
    for (const auto& [shard, gr] : leads) CLEAVE_RETURN_IF_ERROR(record_voters(view, gr));

    // Splits (--split-bytes, --split-writes-per-s): a shard whose leader
    // measured more bytes or more writes per second than the threshold, and
    // measured it after its last split, is halved; one per round. A shard
    // with a move in flight waits (its voters are changing).
    if (config_.split_bytes > 0 || config_.split_writes_per_s > 0) {
        for (const auto& d : view.shards) {
            auto load = view.loads.find(d.id());
            if (load == view.loads.end()) continue;
            const bool big =
                config_.split_bytes > 0 && load->second.size_bytes() > config_.split_bytes;
            const bool hot = config_.split_writes_per_s > 0 &&
                             load->second.writes_per_s() > config_.split_writes_per_s;
            if (!big && !hot) continue;
            if (load->second.measured_ms() <= split_at_ms_[d.id()]) continue;
            auto gr = leads.find(d.id());
            if (gr == leads.end() ||
                std::any_of(gr->second.replicas().begin(), gr->second.replicas().end(),
                            [](const auto& m) { return !m.voter(); }))
                continue;
            const int64_t now = SystemClock::instance().now_unix_ms();
            auto done = split_shard(d.id(), std::nullopt);
            split_at_ms_[d.id()] = now;
            if (!done.is_ok()) {
                if (done.status().code() != Errc::invalid_argument)
                    log()->warn("placement: split of shard {} failed: {}", d.id(),
                                done.status().to_string());
                continue;
            }
            if (big) {
                log()->info("placement: shard {} holds {} bytes (> {}): split", d.id(),
                            load->second.size_bytes(), config_.split_bytes);
            } else {
                log()->info("placement: shard {} applies {:.0f} writes/s (> {:.0f}): split", d.id(),
                            load->second.writes_per_s(), config_.split_writes_per_s);
            }
            return Status::ok();
        }
    }
    meta::ClusterState state = driver_state(view);
    std::erase_if(state.shards, [](const meta::ShardState& sh) { return sh.id == kMeta.value(); });
    for (auto& sh : state.shards) {
        auto it = leads.find(sh.id);
        if (it == leads.end()) {
            sh.busy = true;  // no leader known this round: nothing to act through
            continue;
        }
        const GroupReport& gr = it->second;
        sh.replicas.clear();
        for (const auto& m : gr.replicas()) {
            sh.replicas.push_back({m.node(), m.voter(), caught_up(m.match(), gr.commit())});
            if (std::none_of(state.nodes.begin(), state.nodes.end(),
                             [&](const meta::NodeState& n) { return n.id == m.node(); }))
                state.nodes.push_back(meta::NodeState{m.node()});
        }
    }
    meta::DriverOptions o;
    o.replication = config_.replicas;
    o.max_moves = 2;
    // Each step touches one shard, through that shard's own leader: steps of
    // different shards are carried out in turn, in the plan's order.
    for (const auto& ps : meta::plan(state, o)) {
        if (std::holds_alternative<meta::SplitStep>(ps.step)) continue;
        const uint64_t shard = std::visit([](const auto& st) { return st.shard; }, ps.step);
        CLEAVE_RETURN_IF_ERROR(execute_step(GroupId{shard}, leader_of[shard], ps, call));
    }

    // The meta shard (led here): repair only - a dead voter replaced on a
    // live node; its few voters gain nothing from balancing.
    const multiraft::GroupStatus ms = host_->status(kMeta);
    meta::ClusterState mstate;
    mstate.nodes = state.nodes;
    meta::ShardState m0;
    m0.id = kMeta.value();
    for (const auto& r : ms.replicas) {
        m0.replicas.push_back({r.node.value(), r.voter, caught_up(r.match, ms.commit)});
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
        if (g != kMeta) {
            auto repaired = call(pro->node, group_request(multiraft::wire::kRepairChunks, g),
                                 milliseconds(300000));
            if (!repaired.is_ok() && repaired.status().code() == Errc::not_found) {
                // The learner's node does not host the group (it restarted
                // before it remembered it, or a Split's cleanup raced the
                // hosting): host it again; it catches up before it counts
                // as caught up.
                CLEAVE_RETURN_IF_ERROR(
                    call(pro->node, group_request(multiraft::wire::kHostGroup, g), kStepTimeout)
                        .status());
                return Status::unavailable(
                    fmt::format("shard {}'s learner on node {} was not hosted: hosted again",
                                g.value(), pro->node));
            }
            CLEAVE_RETURN_IF_ERROR(repaired.status());
        }
        CLEAVE_RETURN_IF_ERROR(
            call(leader, membership_request(g, 'P', pro->node), kStepTimeout).status());
    } else if (const auto* rm = std::get_if<meta::RemoveReplica>(&step.step)) {
        CLEAVE_RETURN_IF_ERROR(
            call(leader, membership_request(g, 'R', rm->node), kStepTimeout).status());
        if (g != kMeta) {
            // Tell the removed node at once (its group may never tell it),
            // and record the new voters now rather than next round: nodes
            // route by the map.
            auto told =
                call(rm->node, group_request(multiraft::wire::kLeftGroup, g), milliseconds(2000));
            if (!told.is_ok())
                log()->info("node {} not told it left shard {}: {}", rm->node, g.value(),
                            told.status().to_string());
            CLEAVE_ASSIGN_OR_RETURN(
                ClusterView view,
                read_cluster_view(*meta_engine_, SystemClock::instance().now_unix_ms(),
                                  config_.down_after_ms));
            if (auto gr = group_report(leader, g); gr && gr->role() == "leader")
                CLEAVE_RETURN_IF_ERROR(record_voters(view, *gr));
        }
    }
    return Status::ok();
}

}  // namespace cleave::node
