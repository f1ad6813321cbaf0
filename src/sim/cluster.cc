#include "sim/cluster.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/assert.h"
#include "sim/format.h"

namespace cleave::sim {

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), rng_(options_.seed), network_(rng_) {
    for (NodeId id : options_.voters) options_.nodes.insert(id);
    for (NodeId id : options_.nodes) {
        SimNode& n = nodes_[id];
        n.id = id;
        n.options = options_.raft;
        n.options.id = id;
        if (options_.voters.count(id)) {
            // Bootstrap (fsm.h): an empty snapshot at index 0 that carries
            // the initial configuration.
            auto snap = std::make_shared<raft::Snapshot>();
            snap->meta.config.voters = options_.voters;
            snap->data = Register{}.serialize();
            n.storage.compact(snap);
        }
        restart(id);
    }
}

void Cluster::set_trace(std::string* out) { trace_ = out; }

void Cluster::trace(const std::string& line) {
    if (!trace_) return;
    trace_->append(line);
    trace_->push_back('\n');
}

SimNode& Cluster::node(NodeId id) {
    auto it = nodes_.find(id);
    CLEAVE_ASSERT(it != nodes_.end(), "no node {}", id);
    return it->second;
}

bool Cluster::alive(NodeId id) const {
    auto it = nodes_.find(id);
    return it != nodes_.end() && it->second.alive;
}

void Cluster::tick(NodeId id) {
    SimNode& n = node(id);
    if (!n.alive) return;
    // A disk finishes its writes within a tick (an fdatasync takes far less
    // than an election timeout); between two ticks they race the messages.
    maybe_sync(n, true);
    if (!n.alive) return;  // crashed in the Ready that followed
    n.fsm->tick();
    process(n);
}

void Cluster::tick_all() {
    for (auto& [id, n] : nodes_) {
        auto slow = options_.slow_clocks.find(id);
        if (slow != options_.slow_clocks.end() && now_ % slow->second.first == slow->second.second)
            continue;  // this node's clock lost a tick
        tick(id);
    }
}

bool Cluster::deliver_one(const std::set<NodeId>* only_to) {
    auto m = network_.take(now_, options_.reorder, only_to);
    if (!m) return false;
    auto it = nodes_.find(m->to);
    if (it == nodes_.end() || !it->second.alive) {
        if (trace_) trace("lost " + format_message(*m));
        return true;
    }
    if (trace_) trace(format_message(*m));
    it->second.fsm->step(std::move(*m));
    process(it->second);
    maybe_sync(it->second);
    return true;
}

size_t Cluster::deliver_all(size_t max) {
    size_t n = 0;
    while (n < max && deliver_one()) ++n;
    return n;
}

void Cluster::crash(NodeId id) {
    SimNode& n = node(id);
    if (n.alive) crash_node(n, false);
}

void Cluster::crash_node(SimNode& n, bool torn) {
    trace(
        fmt::format("{} crashed{}", n.id, torn ? " before sync (unsynced tail lost or torn)" : ""));
    n.storage.crash(rng_);
    n.alive = false;
    n.fsm.reset();
    n.pending_writes.clear();  // their outcome is now unknown to the client
    n.pending_reads.clear();
    n.in_flight.clear();  // the disk lost or kept them: storage.crash decided
}

void Cluster::restart(NodeId id) {
    SimNode& n = node(id);
    if (n.alive) return;
    ++n.incarnation;
    n.rng = std::make_unique<Random>(options_.seed * 1000003 + id.value() * 7919 + n.incarnation);
    raft::PersistentState state = n.storage.load();
    n.sm = Register{};
    if (state.snapshot) n.sm.restore(state.snapshot->data);
    n.fsm = std::make_unique<raft::Fsm>(n.options, *n.rng, std::move(state));
    n.alive = true;
    n.last_seen_commit = Index{};
    n.last_role = n.fsm->role();
    n.last_term = n.fsm->term();
    if (n.incarnation > 1) trace(fmt::format("{} restarted: {}", id, format_status(*n.fsm)));
    process(n);
}

void Cluster::process(SimNode& n) {
    const bool async = n.options.async_persist;
    while (n.alive && n.fsm->has_ready()) {
        raft::Ready r = n.fsm->get_ready();
        n.storage.write(r);
        if (options_.crash_in_ready_per_mille &&
            rng_.chance(options_.crash_in_ready_per_mille, 1000)) {
            crash_node(n, true);
            return;
        }
        if (async) {
            // The write runs on: only what vouches for no durable state
            // leaves now (multiraft/host.cc does the same), and nothing at
            // all while a term or vote change or a snapshot is unsynced.
            SimNode::InFlight w;
            w.mark = r.persist_mark();
            w.entries = r.entries;
            // Log Matching is checked at the sync, against the log these
            // were cut from (it may have moved on by then).
            if (!r.entries.empty())
                w.first_prev_term = n.fsm->log().term_at(r.entries.front().index.prev());
            w.barrier = r.snapshot || r.term_or_vote_changed;
            const bool barred = w.barrier || std::any_of(n.in_flight.begin(), n.in_flight.end(),
                                                         [](const auto& f) { return f.barrier; });
            for (auto& m : r.messages) {
                if (raft::may_precede_persistence(m.type) && !barred)
                    network_.send(std::move(m), now_);
                else
                    w.messages.push_back(std::move(m));
            }
            n.in_flight.push_back(std::move(w));
        } else {
            n.storage.sync();
            // Persisted: now the messages may leave (ready.h).
            checker_.on_persisted(n.id, n.fsm->log(), r.entries);
            for (auto& m : r.messages) network_.send(std::move(m), now_);
        }
        checker_.on_commit(*n.fsm, n.last_seen_commit);
        if (r.snapshot) {
            n.sm.restore(r.snapshot->data);
            trace(fmt::format("{} installed snapshot {}/{}", n.id, r.snapshot->meta.index,
                              r.snapshot->meta.term));
            CLEAVE_ASSERT(n.sm.applied == r.snapshot->meta.index, "snapshot data index {} != {}",
                          n.sm.applied, r.snapshot->meta.index);
            std::erase_if(n.pending_writes,
                          [&](const auto& p) { return p.first <= r.snapshot->meta.index; });
        }
        for (const auto& e : r.committed) apply(n, e);
        for (const auto& rs : r.read_states) {
            auto it = n.pending_reads.find(rs.request_id);
            if (it != n.pending_reads.end()) it->second.index = rs.index;
        }
        n.fsm->advance(r);
        serve_reads(n);
        if (r.snapshot_due && *r.snapshot_due == n.sm.applied) {
            snapshot(n.id).ignore();
            if (!n.alive) return;  // crashed in a Ready the snapshot's sync let out
        }
        observe(n);
    }
    if (n.alive) observe(n);
}

void Cluster::maybe_sync(SimNode& n, bool force) {
    if (!n.alive || n.in_flight.empty()) return;
    if (!force && !rng_.chance(options_.sync_pct, 100)) return;
    n.storage.sync();
    auto done = std::move(n.in_flight);
    n.in_flight.clear();
    trace(fmt::format("{} synced {} writes", n.id, done.size()));
    for (auto& w : done) {
        checker_.on_persisted(n.id, w.first_prev_term, w.entries);
        if (w.mark) n.fsm->persisted(*w.mark);
        for (auto& m : w.messages) network_.send(std::move(m), now_);
    }
    process(n);
}

void Cluster::apply(SimNode& n, const raft::Entry& e) {
    if (e.index != n.sm.applied.next()) {
        checker_.fail(
            fmt::format("node {} applied index {} after {}", n.id, e.index, n.sm.applied));
        return;
    }
    checker_.on_apply(n.id, e);
    if (e.type == raft::EntryType::command) n.sm.value = e.data;
    n.sm.applied = e.index;
    auto it = n.pending_writes.find(e.index);
    if (it != n.pending_writes.end()) {
        if (e.type == raft::EntryType::command && e.data == it->second.second) {
            checker_.write_acked(it->second.first, e.index);
            trace(fmt::format("{} acked write {} at {}", n.id, e.data, e.index));
        }
        n.pending_writes.erase(it);
    }
}

void Cluster::serve_reads(SimNode& n) {
    for (auto it = n.pending_reads.begin(); it != n.pending_reads.end();) {
        if (it->second.index && n.sm.applied >= *it->second.index) {
            checker_.read_returned(it->second.op, n.sm.value);
            last_read_value_ = n.sm.value;
            trace(fmt::format("{} read req={} index={} -> '{}'", n.id, it->first, *it->second.index,
                              n.sm.value));
            it = n.pending_reads.erase(it);
        } else {
            ++it;
        }
    }
}

void Cluster::check_leases() {
    // 6.4.1: while a leader's lease is valid no other server may have become
    // leader of a later term (it could commit writes the lease holder's
    // reads would miss). Stronger, and far more sensitive, than waiting for
    // a stale read to show up in the history.
    NodeId newest;
    Term newest_term;
    for (const auto& [id, n] : nodes_) {
        if (n.alive && n.fsm->role() == raft::Role::leader && n.fsm->term() > newest_term) {
            newest = id;
            newest_term = n.fsm->term();
        }
    }
    for (const auto& [id, n] : nodes_) {
        if (n.alive && n.fsm->lease_valid() && n.fsm->term() < newest_term) {
            checker_.fail(
                fmt::format("lease safety: node {} holds a lease in term {} while node {} "
                            "leads term {}",
                            id, n.fsm->term(), newest, newest_term));
        }
    }
}

void Cluster::observe(SimNode& n) {
    if (n.options.lease_reads) check_leases();
    const raft::Fsm& f = *n.fsm;
    if (f.role() == n.last_role && f.term() == n.last_term) return;
    n.last_role = f.role();
    n.last_term = f.term();
    trace(fmt::format("{} is {} at t{}", n.id, raft::role_name(f.role()), f.term()));
    checker_.on_role(f);
    if (f.role() == raft::Role::leader && on_leader_) on_leader_(n.id, f.term());
}

Result<Index> Cluster::propose(NodeId id, std::string value) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    auto r = n.fsm->propose(value);
    if (r.is_ok()) {
        const uint64_t op = checker_.write_invoked(id, value);
        n.pending_writes[*r] = {op, value};
        trace(fmt::format("{} propose {} -> index {}", id, value, *r));
    }
    process(n);
    return r;
}

Status Cluster::read(NodeId id) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    const uint64_t req = ++next_request_id_;
    Status s = n.fsm->read_index(req);
    if (s.is_ok()) {
        n.pending_reads[req] = {checker_.read_invoked(id), std::nullopt};
        trace(fmt::format("{} read req={}", id, req));
    }
    process(n);
    return s;
}

Result<Index> Cluster::change_config(NodeId id, std::set<NodeId> voters,
                                     std::set<NodeId> learners) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    auto r = n.fsm->change_configuration(std::move(voters), std::move(learners));
    if (r.is_ok())
        trace(fmt::format("{} change config -> {}", id, format_config(n.fsm->configuration())));
    process(n);
    return r;
}

Status Cluster::transfer(NodeId id, NodeId target) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    Status s = n.fsm->transfer_leadership(target);
    if (s.is_ok()) trace(fmt::format("{} transfer leadership to {}", id, target));
    process(n);
    return s;
}

Status Cluster::campaign(NodeId id) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    n.fsm->campaign();
    process(n);
    return Status::ok();
}

Status Cluster::snapshot(NodeId id) {
    SimNode& n = node(id);
    if (!n.alive) return Status::unavailable("node is down");
    // The simulated disk compacts only a synced log (a sync lets the core
    // go on, which may write again).
    while (n.alive && !n.in_flight.empty()) maybe_sync(n, true);
    if (!n.alive) return Status::unavailable("node is down");
    auto r = n.fsm->take_snapshot(n.sm.applied, n.sm.serialize());
    if (!r.is_ok()) return r.status();
    n.storage.compact(n.fsm->log().snapshot());
    trace(fmt::format("{} snapshot at {}, log from {}", id, n.sm.applied, *r));
    return Status::ok();
}

NodeId Cluster::leader() const {
    NodeId best;
    Term best_term;
    for (const auto& [id, n] : nodes_) {
        if (n.alive && n.fsm->role() == raft::Role::leader && n.fsm->term() >= best_term) {
            best = id;
            best_term = n.fsm->term();
        }
    }
    return best;
}

}  // namespace cleave::sim
