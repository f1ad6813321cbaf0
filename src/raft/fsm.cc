#include "raft/fsm.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"

namespace cleave::raft {

const char* role_name(Role role) {
    switch (role) {
        case Role::follower:
            return "follower";
        case Role::pre_candidate:
            return "pre-candidate";
        case Role::candidate:
            return "candidate";
        case Role::leader:
            return "leader";
    }
    return "?";
}

Fsm::Fsm(const RaftOptions& options, Random& rng, PersistentState state)
    : options_(options), rng_(rng), log_(std::move(state.snapshot), std::move(state.entries)) {
    const std::string invalid = validate(options_);
    CLEAVE_ASSERT(invalid.empty(), "invalid raft options: {}", invalid);
    term_ = state.hard_state.term;
    vote_ = state.hard_state.vote;
    log_.commit_to(std::min(state.hard_state.commit, log_.last_index()));
    persisted_hard_state_ = state.hard_state;
    reload_config();
    boot_sticky_ = options_.lease_reads;
    reset_randomized_timeout();
}

bool Fsm::planted(PlantedBug bug) const {
#ifdef CLEAVE_PLANT_RAFT_BUGS
    return options_.planted_bug == bug;
#else
    (void)bug;
    return false;
#endif
}

const Progress* Fsm::progress(NodeId id) const {
    auto it = progress_.find(id);
    return it == progress_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------
// Roles

void Fsm::reset_randomized_timeout() {
    // 3.4: randomized election timeouts make split votes rare.
    const uint32_t t = options_.election_timeout_ticks;
    randomized_election_timeout_ = t + static_cast<uint32_t>(rng_.uniform(t));
}

void Fsm::reset(Term term) {
    if (term_ != term) {
        term_ = term;
        vote_ = NodeId{};
    }
    leader_ = NodeId{};
    election_elapsed_ = 0;
    heartbeat_elapsed_ = 0;
    reset_randomized_timeout();
    votes_.clear();
    progress_.clear();
    read_only_.clear();
    reads_waiting_for_commit_.clear();
    heartbeat_round_ = 0;
    round_sent_tick_.clear();
    lease_start_tick_.reset();
    lease_disabled_ = false;
    transfer_target_ = NodeId{};
}

void Fsm::become_follower(Term term, NodeId leader) {
    reset(term);
    role_ = Role::follower;
    leader_ = leader;
}

void Fsm::become_pre_candidate() {
    // 9.6: a pre-candidate changes neither its term nor its vote.
    role_ = Role::pre_candidate;
    votes_.clear();
    leader_ = NodeId{};
    boot_sticky_ = false;
    reset_randomized_timeout();
}

void Fsm::become_candidate() {
    reset(term_.next());
    role_ = Role::candidate;
    vote_ = options_.id;
    boot_sticky_ = false;
}

void Fsm::become_leader() {
    CLEAVE_ASSERT(role_ == Role::candidate, "node {} becomes leader from {}", options_.id,
                  role_name(role_));
    reset(term_);
    role_ = Role::leader;
    leader_ = options_.id;
    sync_progress();
    // 6.4 / 8: a new leader commits a blank no-op entry at the start of its
    // term, which also commits everything before it (3.6.2).
    Entry noop;
    noop.type = EntryType::noop;
    append_entries({std::move(noop)});
    broadcast_append();
}

bool Fsm::promotable() const {
    if (config_.is_voter(options_.id)) return true;
    // A voter of the last committed configuration may still campaign even if
    // an uncommitted later one (say, C_new after a joint configuration)
    // excludes it; its votes are still counted under the latest one. Without
    // this, when the new voters lag behind and the old leader is gone, no
    // server could both campaign and win (4.2.2: a server outside C_new may
    // lead until C_new is committed).
    return log_.config_at(log_.committed()).first.is_voter(options_.id);
}

bool Fsm::in_lease() const {
    // 4.2.3: a server that heard from a current leader within the minimum
    // election timeout ignores RequestVote, so removed or partitioned servers
    // cannot disrupt a healthy cluster; 6.4.1 relies on it for leases.
    return options_.check_quorum && (leader_ != NodeId{} || boot_sticky_) &&
           election_elapsed_ < options_.election_timeout_ticks;
}

// ---------------------------------------------------------------------------
// Inputs

void Fsm::tick() {
    CLEAVE_ASSERT(!in_ready_, "tick() between get_ready() and advance()");
    ++ticks_;
    if (role_ != Role::leader) {
        ++election_elapsed_;
        if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
            election_elapsed_ = 0;
            campaign_internal(true, false);
        }
        return;
    }
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    if (election_elapsed_ >= options_.election_timeout_ticks) {
        election_elapsed_ = 0;
        if (options_.check_quorum) {
            // 6.2: step down when a quorum has not been heard from within an
            // election timeout; clients can then find the real leader.
            const uint64_t active = config_.quorum_min([&](NodeId id) -> uint64_t {
                if (id == options_.id) return 1;
                auto it = progress_.find(id);
                return it != progress_.end() && it->second.recent_active ? 1 : 0;
            });
            for (auto& [id, pr] : progress_) pr.recent_active = false;
            if (active == 0) {
                become_follower(term_, NodeId{});
                return;
            }
        }
        // 3.10: a transfer that did not complete within an election timeout
        // is aborted and the leader accepts proposals again.
        transfer_target_ = NodeId{};
    }
    for (auto& [id, pr] : progress_) {
        if (pr.tick_snapshot(options_.election_timeout_ticks)) {
            pr.become_probe();  // the snapshot was lost: send it again
            send_append(id, true);
        }
    }
    if (heartbeat_elapsed_ >= options_.heartbeat_interval_ticks) {
        heartbeat_elapsed_ = 0;
        broadcast_heartbeat();
    }
}

void Fsm::campaign() {
    CLEAVE_ASSERT(!in_ready_, "campaign() between get_ready() and advance()");
    if (role_ == Role::leader) return;
    campaign_internal(true, false);
}

void Fsm::campaign_internal(bool allow_pre_vote, bool force) {
    if (!promotable()) return;
    const bool pre = options_.pre_vote && allow_pre_vote;
    MessageType type;
    Term term;
    if (pre) {
        become_pre_candidate();
        type = MessageType::pre_vote;
        term = term_.next();
    } else {
        become_candidate();
        type = MessageType::vote;
        term = term_;
    }
    votes_[options_.id] = true;
    if (config_.vote_result(votes_) == VoteResult::won) {
        // A single voter wins at once.
        if (pre) {
            campaign_internal(false, force);
        } else {
            become_leader();
        }
        return;
    }
    std::set<NodeId> voters = config_.voters;
    voters.insert(config_.voters_outgoing.begin(), config_.voters_outgoing.end());
    for (NodeId to : voters) {
        if (to == options_.id) continue;
        Message m;
        m.type = type;
        m.to = to;
        m.term = term;
        m.log_index = log_.last_index();
        m.log_term = log_.last_term();
        m.force = force;
        send(std::move(m));
    }
}

Result<Index> Fsm::propose(std::string command) {
    CLEAVE_ASSERT(!in_ready_, "propose() between get_ready() and advance()");
    if (role_ != Role::leader) return Status(Errc::not_leader, "not the leader");
    if (transfer_target_ != NodeId{}) return Status::unavailable("leadership transfer in progress");
    Entry e;
    e.type = EntryType::command;
    e.data = std::move(command);
    append_entries({std::move(e)});
    broadcast_append();
    return log_.last_index();
}

Status Fsm::read_index(uint64_t request_id) {
    CLEAVE_ASSERT(!in_ready_, "read_index() between get_ready() and advance()");
    if (role_ == Role::leader) {
        leader_read(options_.id, request_id);
        return Status::ok();
    }
    if (leader_ == NodeId{}) return Status(Errc::not_leader, "no known leader");
    if (planted(PlantedBug::follower_local_read)) {
        read_states_.push_back({request_id, log_.committed()});
        return Status::ok();
    }
    // 6.4: a follower asks the leader for a read index, then waits until it
    // has applied up to it (the host does the waiting).
    Message m;
    m.type = MessageType::read_index;
    m.to = leader_;
    m.term = term_;
    m.context = request_id;
    send(std::move(m));
    return Status::ok();
}

Result<Index> Fsm::change_configuration(std::set<NodeId> voters, std::set<NodeId> learners) {
    CLEAVE_ASSERT(!in_ready_, "change_configuration() between get_ready() and advance()");
    if (role_ != Role::leader) return Status(Errc::not_leader, "not the leader");
    if (transfer_target_ != NodeId{}) return Status::unavailable("leadership transfer in progress");
    // One change at a time (4.3), and only once this leader has committed an
    // entry of its own term, so an older leader's uncommitted change cannot
    // overlap with ours (the fix to the single-server change bug, 4.1).
    if (config_.joint() || config_index_ > log_.committed() || !committed_in_current_term())
        return Status::unavailable("a configuration change is in progress");
    if (voters.empty()) return Status::invalid_argument("a configuration needs a voter");
    for (NodeId id : learners) {
        if (voters.count(id)) return Status::invalid_argument("a node is both voter and learner");
    }
    Entry e;
    e.type = EntryType::configuration;
    e.config.voters = std::move(voters);
    e.config.learners = std::move(learners);
    // 4.3: a change of voters goes through the joint configuration C_old,new;
    // a change of learners only needs no joint phase (learners never vote).
    if (e.config.voters != config_.voters) e.config.voters_outgoing = config_.voters;
    append_entries({std::move(e)});
    const Index index = log_.last_index();
    broadcast_append();
    return index;
}

Status Fsm::transfer_leadership(NodeId target) {
    CLEAVE_ASSERT(!in_ready_, "transfer_leadership() between get_ready() and advance()");
    if (role_ != Role::leader) return Status(Errc::not_leader, "not the leader");
    if (target == options_.id) return Status::ok();
    auto it = progress_.find(target);
    if (!config_.is_voter(target) || it == progress_.end())
        return Status::invalid_argument("transfer target is not a voter");
    transfer_target_ = target;
    election_elapsed_ = 0;  // the transfer gets one election timeout (3.10)
    // The target will campaign with `force`, overriding the stickiness the
    // lease relies on: no lease read for the rest of this term.
    lease_disabled_ = true;
    if (it->second.match() == log_.last_index()) {
        Message m;
        m.type = MessageType::timeout_now;
        m.to = target;
        m.term = term_;
        send(std::move(m));
    } else {
        send_append(target, true);
    }
    return Status::ok();
}

Result<Index> Fsm::take_snapshot(Index index, std::string data) {
    CLEAVE_ASSERT(!in_ready_, "take_snapshot() between get_ready() and advance()");
    if (index > log_.applied()) return Status::invalid_argument("snapshot beyond applied index");
    if (index <= log_.snapshot()->meta.index)
        return Status::precondition_failed("snapshot not newer than the current one");
    auto term = log_.term_at(index);
    CLEAVE_ASSERT(term.has_value(), "no term for applied index {}", index);
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = index;
    snap->meta.term = *term;
    snap->meta.config = log_.config_at(index).first;
    snap->data = std::move(data);
    const uint64_t trailing = options_.snapshot_trailing_entries;
    const Index keep_from{index.value() + 1 > trailing ? index.value() + 1 - trailing : 1};
    log_.compact(std::move(snap), keep_from);
    return log_.first_index();
}

// ---------------------------------------------------------------------------
// Messages

void Fsm::step(Message m) {
    CLEAVE_ASSERT(!in_ready_, "step() between get_ready() and advance()");
    const bool from_leader = m.type == MessageType::append || m.type == MessageType::heartbeat ||
                             m.type == MessageType::install_snapshot;
    const bool vote_request = m.type == MessageType::vote || m.type == MessageType::pre_vote;
    if (m.term > term_) {
        if (vote_request && !m.force && in_lease()) return;  // 4.2.3
        if (m.type == MessageType::pre_vote) {
            // 9.6: answering a pre-vote never changes our term.
        } else if (m.type == MessageType::pre_vote_response && !m.reject) {
            // Granted for the term we would campaign in; not a newer term.
        } else {
            become_follower(m.term, from_leader ? m.from : NodeId{});
        }
    } else if (m.term < term_) {
        if (m.type == MessageType::append || m.type == MessageType::heartbeat) {
            // Figure 3.1: reply with our term so a stale leader steps down.
            // Needed beyond the figure too: with pre-vote or check-quorum a
            // stale leader may never see a vote request of the new term, and
            // a learner (which never campaigns) would otherwise stay cut off.
            Message r;
            r.type = MessageType::append_response;
            r.to = m.from;
            r.term = term_;
            send(std::move(r));
        } else if (m.type == MessageType::pre_vote || m.type == MessageType::vote) {
            // Figure 3.1: "reply false if term < currentTerm", with our term,
            // so a candidate stuck in an old term (say, one whose voters are
            // all in a newer term and never contact it) catches up.
            Message r;
            r.type = m.type == MessageType::vote ? MessageType::vote_response
                                                 : MessageType::pre_vote_response;
            r.to = m.from;
            r.term = term_;
            r.reject = true;
            send(std::move(r));
        }
        return;
    }

    if (vote_request) {
        handle_vote_request(m);
        return;
    }
    switch (role_) {
        case Role::leader:
            step_leader(m);
            break;
        case Role::pre_candidate:
        case Role::candidate:
            step_candidate(m);
            break;
        case Role::follower:
            step_follower(m);
            break;
    }
}

void Fsm::handle_vote_request(const Message& m) {
    const bool pre = m.type == MessageType::pre_vote;
    // 3.4: at most one vote per term, first come first served; a pre-vote
    // for a future term binds nothing.
    bool can_vote =
        vote_ == m.from || (vote_ == NodeId{} && leader_ == NodeId{}) || (pre && m.term > term_);
    if (!pre && planted(PlantedBug::double_vote)) can_vote = true;
    Message r;
    r.type = pre ? MessageType::pre_vote_response : MessageType::vote_response;
    r.to = m.from;
    // 3.6.1: only for a candidate whose log is at least as up to date.
    if (can_vote && log_.is_up_to_date(m.log_index, m.log_term)) {
        r.term = m.term;
        if (!pre) {
            election_elapsed_ = 0;
            vote_ = m.from;
        }
    } else {
        r.term = term_;
        r.reject = true;
    }
    send(std::move(r));
}

void Fsm::step_leader(Message& m) {
    switch (m.type) {
        case MessageType::append_response:
            handle_append_response(m);
            break;
        case MessageType::heartbeat_response:
            handle_heartbeat_response(m);
            break;
        case MessageType::read_index:
            leader_read(m.from, m.context);
            break;
        default:
            break;  // stale responses and duplicates
    }
}

void Fsm::step_candidate(Message& m) {
    switch (m.type) {
        case MessageType::append:
            become_follower(term_, m.from);
            handle_append(m);
            break;
        case MessageType::heartbeat:
            become_follower(term_, m.from);
            handle_heartbeat(m);
            break;
        case MessageType::install_snapshot:
            become_follower(term_, m.from);
            handle_snapshot(m);
            break;
        case MessageType::vote_response:
            if (role_ == Role::candidate) on_vote_response(m);
            break;
        case MessageType::pre_vote_response:
            if (role_ == Role::pre_candidate) on_vote_response(m);
            break;
        default:
            break;
    }
}

void Fsm::step_follower(Message& m) {
    switch (m.type) {
        case MessageType::append:
            election_elapsed_ = 0;
            leader_ = m.from;
            handle_append(m);
            break;
        case MessageType::heartbeat:
            election_elapsed_ = 0;
            leader_ = m.from;
            handle_heartbeat(m);
            break;
        case MessageType::install_snapshot:
            election_elapsed_ = 0;
            leader_ = m.from;
            handle_snapshot(m);
            break;
        case MessageType::timeout_now:
            // 3.10: the leader asks us to start an election at once, skipping
            // pre-vote and overriding the voters' stickiness.
            campaign_internal(false, true);
            break;
        case MessageType::read_index_response:
            read_states_.push_back({m.context, m.log_index});
            break;
        default:
            break;
    }
}

void Fsm::on_vote_response(const Message& m) {
    votes_[m.from] = !m.reject;
    switch (config_.vote_result(votes_)) {
        case VoteResult::won:
            if (role_ == Role::pre_candidate) {
                // The real election after a pre-vote: voters keep their
                // stickiness (no force).
                campaign_internal(false, false);
            } else {
                become_leader();
            }
            break;
        case VoteResult::lost:
            become_follower(term_, NodeId{});
            break;
        case VoteResult::pending:
            break;
    }
}

void Fsm::handle_append(Message& m) {
    Message r;
    r.type = MessageType::append_response;
    r.to = m.from;
    r.term = term_;
    if (m.log_index < log_.committed()) {
        // Everything up to our commit index already matches (3.5, Log Matching).
        r.log_index = log_.committed();
        send(std::move(r));
        return;
    }
    const bool has_config = std::any_of(m.entries.begin(), m.entries.end(), [](const Entry& e) {
        return e.type == EntryType::configuration;
    });
    bool truncated = false;
    auto last =
        log_.maybe_append(m.log_index, m.log_term, m.commit, std::move(m.entries), truncated);
    if (last) {
        // 4.1: a server uses the latest configuration in its log, committed or
        // not; truncation may have removed it.
        if (has_config || truncated) reload_config();
        r.log_index = *last;
    } else {
        // 3.5 (fast backtracking): hint the last index whose term is not
        // newer than the leader's entry there, so the leader skips a whole
        // conflicting term per round trip instead of one entry.
        Index hint = std::min(m.log_index, log_.last_index());
        hint = log_.find_conflict_by_term(hint, m.log_term);
        r.reject = true;
        r.log_index = m.log_index;
        r.reject_hint = hint;
        r.reject_term = log_.term_at(hint).value_or(Term{});
    }
    send(std::move(r));
}

void Fsm::handle_heartbeat(const Message& m) {
    // The leader never sends a commit beyond what it knows we match.
    log_.commit_to(std::min(m.commit, log_.last_index()));
    Message r;
    r.type = MessageType::heartbeat_response;
    r.to = m.from;
    r.term = term_;
    r.context = m.context;
    send(std::move(r));
}

void Fsm::handle_snapshot(const Message& m) {
    const SnapshotMeta& s = m.snapshot->meta;
    Message r;
    r.type = MessageType::append_response;
    r.to = m.from;
    r.term = term_;
    if (s.index <= log_.committed()) {
        r.log_index = log_.committed();
    } else if (log_.matches(s.index, s.term)) {
        // 5.3: "If existing log entry has same index and term as snapshot's
        // last included entry, retain log entries following it."
        log_.commit_to(s.index);
        r.log_index = log_.committed();
    } else {
        // 5.3: otherwise discard the entire log and reset from the snapshot.
        log_.restore(m.snapshot);
        pending_snapshot_ = m.snapshot;
        reload_config();
        r.log_index = log_.last_index();
    }
    send(std::move(r));
}

void Fsm::handle_append_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end()) return;
    Progress& pr = it->second;
    pr.recent_active = true;
    if (m.reject) {
        const Index hint = log_.find_conflict_by_term(m.reject_hint, m.reject_term);
        if (pr.maybe_decrease_to(m.log_index, hint)) {
            if (pr.state() == Progress::State::replicate) pr.become_probe();
            send_append(m.from, true);
        }
        return;
    }
    if (m.log_index > log_.last_index()) return;  // not from this log
    const bool updated = pr.maybe_update(m.log_index);
    if (updated || pr.state() == Progress::State::snapshot) {
        switch (pr.state()) {
            case Progress::State::probe:
                pr.become_replicate();
                break;
            case Progress::State::snapshot:
                if (pr.match() >= pr.pending_snapshot() ||
                    pr.match().next() >= log_.first_index()) {
                    pr.become_probe();
                    pr.become_replicate();
                }
                break;
            case Progress::State::replicate:
                break;
        }
        maybe_commit();
        if (role_ != Role::leader) return;
    }
    // Pipelining (10.2.1): keep the in-flight window full.
    while (send_append(m.from, false)) {
    }
    if (m.from == transfer_target_ && pr.match() == log_.last_index()) {
        Message t;
        t.type = MessageType::timeout_now;
        t.to = m.from;
        t.term = term_;
        send(std::move(t));
    }
}

void Fsm::handle_heartbeat_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end()) return;
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.acked_round = std::max(pr.acked_round, m.context);
    if (pr.on_heartbeat_response(log_.last_index())) pr.become_probe();
    if (pr.state() == Progress::State::probe && pr.match() < log_.last_index()) {
        send_append(m.from, true);
    }
    release_reads();
}

// ---------------------------------------------------------------------------
// Leader: replication and commitment

void Fsm::send(Message m) {
    m.from = options_.id;
    m.group = options_.group;
    msgs_.push_back(std::move(m));
}

bool Fsm::send_append(NodeId to, bool send_if_empty) {
    auto it = progress_.find(to);
    if (it == progress_.end()) return false;
    Progress& pr = it->second;
    if (pr.is_paused()) return false;
    const Index prev = pr.next().prev();
    auto prev_term = log_.term_at(prev);
    if (!prev_term) {
        // 5.1/5.3: the entries this follower needs were compacted away.
        Message m;
        m.type = MessageType::install_snapshot;
        m.to = to;
        m.term = term_;
        m.snapshot = log_.snapshot();
        pr.become_snapshot(m.snapshot->meta.index);
        send(std::move(m));
        return true;
    }
    std::vector<Entry> entries;
    if (pr.next() <= log_.last_index())
        entries = log_.slice(pr.next(), log_.last_index(), options_.max_entries_per_message);
    if (entries.empty() && !send_if_empty) return false;
    Message m;
    m.type = MessageType::append;
    m.to = to;
    m.term = term_;
    m.log_index = prev;
    m.log_term = *prev_term;
    m.commit = log_.committed();
    const Index last = entries.empty() ? prev : entries.back().index;
    const size_t count = entries.size();
    m.entries = std::move(entries);
    send(std::move(m));
    pr.sent_entries(last, count);
    return true;
}

void Fsm::broadcast_append() {
    for (auto& [id, pr] : progress_) send_append(id, true);
}

uint64_t Fsm::broadcast_heartbeat() {
    const uint64_t round = ++heartbeat_round_;
    round_sent_tick_[round] = ticks_;
    for (auto& [id, pr] : progress_) {
        Message m;
        m.type = MessageType::heartbeat;
        m.to = id;
        m.term = term_;
        m.commit = std::min(pr.match(), log_.committed());
        m.context = round;
        send(std::move(m));
    }
    return round;
}

void Fsm::append_entries(std::vector<Entry> entries) {
    bool has_config = false;
    Index next = log_.last_index();
    for (auto& e : entries) {
        next = next.next();
        e.term = term_;
        e.index = next;
        has_config |= e.type == EntryType::configuration;
    }
    log_.append(std::move(entries));
    if (has_config) {
        reload_config();  // 4.1: effective as soon as it is in the log
        sync_progress();
    }
}

Index Fsm::self_match() const {
    // The leader counts only what it made durable itself (10.2.1 allows
    // writing in parallel with replication; the count must wait for it).
    return log_.stable();
}

bool Fsm::maybe_commit() {
    const Index mci = config_.committed_index([&](NodeId id) {
        if (id == options_.id) return self_match();
        auto it = progress_.find(id);
        return it == progress_.end() ? Index{} : it->second.match();
    });
    if (mci <= log_.committed()) return false;
    // 3.6.2: "Raft never commits log entries from previous terms by counting
    // replicas. Only log entries from the leader's current term are committed
    // by counting replicas" (Figure 3.7 / the paper's Figure 8).
    if (log_.term_at(mci) != term_ && !planted(PlantedBug::commit_previous_term)) return false;
    log_.commit_to(mci);
    on_commit_advanced();
    return true;
}

void Fsm::on_commit_advanced() {
    if (committed_in_current_term() && !reads_waiting_for_commit_.empty()) {
        auto waiting = std::move(reads_waiting_for_commit_);
        reads_waiting_for_commit_.clear();
        for (auto [from, id] : waiting) leader_read(from, id);
    }
    if (config_.joint() && config_index_ <= log_.committed()) {
        // 4.3: once C_old,new is committed, the leader appends C_new.
        Entry e;
        e.type = EntryType::configuration;
        e.config.voters = config_.voters;
        e.config.learners = config_.learners;
        append_entries({std::move(e)});
    }
    broadcast_append();  // tell followers the new commit index
    if (!config_.joint() && config_index_ <= log_.committed() && !config_.is_voter(options_.id)) {
        // 4.2.2: a leader that is not part of C_new steps down once C_new is
        // committed (it managed the cluster until then without counting itself).
        become_follower(term_, NodeId{});
    }
}

bool Fsm::committed_in_current_term() const { return log_.term_at(log_.committed()) == term_; }

void Fsm::reload_config() {
    auto [config, index] = log_.config_at(log_.last_index());
    config_ = std::move(config);
    config_index_ = index;
}

void Fsm::sync_progress() {
    if (role_ != Role::leader) return;
    const std::set<NodeId> members = config_.members();
    for (auto it = progress_.begin(); it != progress_.end();) {
        it = members.count(it->first) ? std::next(it) : progress_.erase(it);
    }
    for (NodeId id : members) {
        if (id == options_.id || progress_.count(id)) continue;
        progress_.emplace(id, Progress(log_.last_index().next(), options_.max_inflight_messages));
    }
}

// ---------------------------------------------------------------------------
// Reads (6.4)

bool Fsm::lease_valid() const {
    if (!options_.lease_reads || role_ != Role::leader || lease_disabled_ || !lease_start_tick_)
        return false;
    const uint64_t span = options_.election_timeout_ticks - options_.max_clock_drift_ticks;
    return ticks_ < *lease_start_tick_ + span;
}

void Fsm::leader_read(NodeId from, uint64_t request_id) {
    // 6.4 step 1: the leader must know the latest commit index, which it
    // does once an entry of its own term (the no-op) is committed.
    if (!committed_in_current_term()) {
        reads_waiting_for_commit_.emplace_back(from, request_id);
        return;
    }
    const Index index = log_.committed();  // 6.4 step 2
    const bool sole_voter =
        config_.quorum_min([&](NodeId id) -> uint64_t { return id == options_.id ? 1 : 0; }) == 1;
    if (sole_voter || lease_valid()) {  // 6.4.1 leases: no round trip
        answer_read(from, request_id, index);
        return;
    }
    // 6.4 step 3: confirm leadership with a heartbeat round.
    const uint64_t round = broadcast_heartbeat();
    read_only_.add({from, request_id, index, round});
}

void Fsm::answer_read(NodeId from, uint64_t request_id, Index index) {
    if (from == options_.id) {
        read_states_.push_back({request_id, index});
        return;
    }
    Message m;
    m.type = MessageType::read_index_response;
    m.to = from;
    m.term = term_;
    m.log_index = index;
    m.context = request_id;
    send(std::move(m));
}

void Fsm::release_reads() {
    const uint64_t quorum_round = config_.quorum_min([&](NodeId id) -> uint64_t {
        if (id == options_.id) return heartbeat_round_;
        auto it = progress_.find(id);
        return it == progress_.end() ? 0 : it->second.acked_round;
    });
    if (quorum_round == 0) return;
    for (const PendingRead& r : read_only_.release(quorum_round)) {
        answer_read(r.from, r.request_id, r.index);
    }
    // 6.4.1: the lease runs from when the acknowledged round was sent.
    auto it = round_sent_tick_.find(quorum_round);
    if (it != round_sent_tick_.end()) {
        if (!lease_start_tick_ || *lease_start_tick_ < it->second) lease_start_tick_ = it->second;
    }
    round_sent_tick_.erase(round_sent_tick_.begin(), round_sent_tick_.lower_bound(quorum_round));
}

// ---------------------------------------------------------------------------
// Output

bool Fsm::has_ready() const {
    return pending_snapshot_ || log_.persisting() < log_.last_index() ||
           HardState{term_, vote_, log_.committed()} != persisted_hard_state_ || !msgs_.empty() ||
           log_.has_next_committed(options_.async_persist) || !read_states_.empty();
}

Ready Fsm::get_ready() {
    CLEAVE_ASSERT(!in_ready_, "get_ready() twice without advance()");
    Ready r;
    r.snapshot = pending_snapshot_;
    r.entries = log_.unstable_entries();
    const HardState hs{term_, vote_, log_.committed()};
    if (hs != persisted_hard_state_) r.hard_state = hs;
    r.term_or_vote_changed =
        hs.term != persisted_hard_state_.term || hs.vote != persisted_hard_state_.vote;
    r.messages.swap(msgs_);
    r.committed = log_.next_committed(options_.async_persist);
    r.read_states.swap(read_states_);
    r.log_generation = log_.generation();
    const Index applied_after = r.committed.empty() ? log_.applied() : r.committed.back().index;
    const uint64_t threshold = options_.snapshot_threshold_entries;
    if (threshold && !r.committed.empty() &&
        applied_after.value() >= log_.snapshot()->meta.index.value() + threshold)
        r.snapshot_due = applied_after;
    in_ready_ = true;
    return r;
}

void Fsm::advance(const Ready& r) {
    CLEAVE_ASSERT(in_ready_, "advance() without get_ready()");
    in_ready_ = false;
    if (r.hard_state) persisted_hard_state_ = *r.hard_state;
    if (r.snapshot && r.snapshot == pending_snapshot_) pending_snapshot_ = nullptr;
    if (!r.entries.empty()) {
        if (options_.async_persist)
            log_.persisting_to(r.entries.back().index);
        else
            log_.stable_to(r.entries.back().index, r.entries.back().term, r.log_generation);
    }
    if (!r.committed.empty()) log_.applied_to(r.committed.back().index);
    if (role_ == Role::leader) maybe_commit();
}

void Fsm::persisted(const PersistMark& mark) {
    CLEAVE_ASSERT(options_.async_persist, "persisted() without async_persist");
    CLEAVE_ASSERT(!in_ready_, "persisted() between get_ready() and advance()");
    log_.stable_to(mark.index, mark.term, mark.log_generation);
    // 10.2.1: the leader's own copy counts only now.
    if (role_ == Role::leader) maybe_commit();
}

}  // namespace cleave::raft
