#include "multiraft/host.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "multiraft/raft_codec.h"
#include "multiraft/snapshot_file.h"
#include "multiraft/wire.h"

namespace cleave::multiraft {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("multiraft");
    return l;
}

// WAL record kinds.
constexpr uint8_t kEntries = 1;       // u32 length | encoded entry, repeated
constexpr uint8_t kHardState = 2;     // encoded hard state
constexpr uint8_t kSnapshotMark = 3;  // a snapshot was installed: forget earlier entries

// Messages larger than this are split over several frames (kMaxFrameBytes).
constexpr size_t kBatchBytes = 8 << 20;

[[noreturn]] void fatal(const std::string& what) {
    // The durable state is unknown (WAL or engine failure): going on could
    // acknowledge what is not durable or diverge from the other replicas.
    log()->critical("fatal: {}; stopping the node", what);
    spdlog::default_logger()->flush();
    std::abort();
}

void put_be(std::string& out, uint64_t v, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint64_t get_be(std::string_view s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

std::string encode_entries(const std::vector<raft::Entry>& entries) {
    std::string out;
    for (const auto& e : entries) {
        std::string one = encode_entry(e);
        put_be(out, one.size(), 4);
        out += one;
    }
    return out;
}

Result<std::vector<raft::Entry>> decode_entries(std::string_view in) {
    std::vector<raft::Entry> out;
    while (!in.empty()) {
        if (in.size() < 4) return Status(Errc::corruption, "truncated entry length");
        const uint64_t n = get_be(in, 4);
        in.remove_prefix(4);
        if (in.size() < n) return Status(Errc::corruption, "truncated entry");
        CLEAVE_ASSIGN_OR_RETURN(auto e, decode_entry(in.substr(0, n)));
        out.push_back(std::move(e));
        in.remove_prefix(n);
    }
    return out;
}

size_t approx_size(const raft::Message& m) {
    size_t n = 64;
    for (const auto& e : m.entries) n += e.data.size() + 32;
    return n;
}

}  // namespace

struct Host::Group {
    GroupId id;
    GroupStateMachine* sm = nullptr;
    std::unique_ptr<Random> rng;
    std::unique_ptr<raft::Fsm> fsm;  // io thread only
    std::atomic<uint64_t> leader{0};
    std::map<uint64_t, uint64_t> record_last_index;  // io thread: WAL lsn -> last entry index
    bool fetching_snapshot = false;                  // io thread
    bool was_leader = false;                         // io thread

    struct Proposal {
        Term term;
        std::shared_ptr<std::promise<Result<std::string>>> done;
    };
    std::mutex proposals_mu;
    std::map<uint64_t, Proposal> proposals;  // by log index; guarded by proposals_mu

    struct PendingRead {
        std::shared_ptr<std::promise<Result<uint64_t>>> done;
        Clock::time_point deadline;
    };
    uint64_t next_read_id = 1;
    std::map<uint64_t, PendingRead> reads;  // io thread

    std::mutex apply_mu;
    std::condition_variable apply_cv;
    std::deque<ApplyItem> apply_queue;                                   // guarded by apply_mu
    std::deque<std::shared_ptr<std::promise<Status>>> compact_requests;  // guarded by apply_mu
    bool apply_stop = false;                                             // guarded by apply_mu
    std::thread apply_thread;

    std::mutex applied_mu;
    std::condition_variable applied_cv;
    std::atomic<uint64_t> applied{0};
    uint64_t last_snapshot_index = 0;  // apply thread
    // Log bytes applied since that snapshot, and its image's size (apply
    // thread): see maybe_snapshot.
    uint64_t bytes_since_snapshot = 0;
    uint64_t last_image_bytes = 0;
    // The snapshot file is written from the io thread (a leader's snapshot)
    // and from the apply thread (a local one): one at a time, newest wins.
    std::mutex snapshot_file_mu;
    uint64_t snapshot_file_index = 0;  // guarded by snapshot_file_mu
    // The job that holds this group's newest term or vote change or
    // snapshot (io thread): until it is durable, none of the group's
    // messages may leave early.
    uint64_t barrier_seq = 0;
};

Host::Host(asio::io_context& io, rpc::Transport& transport, HostOptions options)
    : io_(io), transport_(transport), options_(std::move(options)) {}

Host::~Host() {
    stop();
    *alive_ = false;
}

Status Host::open() {
    WalOptions wo;
    wo.sync = options_.wal_sync;
    Status bad = Status::ok();
    auto wal = Wal::open(options_.dir + "/wal", wo, [&](uint64_t lsn, const WalRecord& r) {
        if (!bad.is_ok()) return;
        Replayed& g = replayed_[r.group];
        switch (r.kind) {
            case kEntries: {
                auto entries = decode_entries(r.payload);
                if (!entries.is_ok()) {
                    bad = entries.status();
                    return;
                }
                if (entries->empty()) return;
                g.entries.erase(g.entries.lower_bound(entries->front().index.value()),
                                g.entries.end());
                g.record_last_index[lsn] = entries->back().index.value();
                for (auto& e : *entries) g.entries.emplace(e.index.value(), std::move(e));
                return;
            }
            case kHardState: {
                auto hs = decode_hard_state(r.payload);
                if (!hs.is_ok()) {
                    bad = hs.status();
                    return;
                }
                g.hard_state = *hs;
                g.has_hard_state = true;
                return;
            }
            case kSnapshotMark:
                g.entries.clear();
                g.record_last_index.clear();
                return;
            default:
                bad = Status(Errc::corruption, fmt::format("unknown WAL record kind {}", r.kind));
        }
    });
    if (!wal.is_ok()) return wal.status();
    CLEAVE_RETURN_IF_ERROR(bad);
    wal_ = std::move(*wal);
    next_lsn_ = wal_->last_lsn() + 1;
    wal_thread_ = std::thread([this] { wal_writer_loop(); });
    return Status::ok();
}

Status Host::add_group(GroupId id, const std::set<NodeId>& initial_voters, GroupStateMachine& sm) {
    CLEAVE_ASSERT(!started_, "add_group after start");
    CLEAVE_ASSIGN_OR_RETURN(auto g, make_group(id, initial_voters, nullptr, sm));
    std::unique_lock lock(groups_mu_);
    groups_[id] = std::move(g);
    return Status::ok();
}

Status Host::add_group_running(GroupId id, GroupStateMachine& sm,
                               const std::set<NodeId>& initial_voters, const BaseState* base) {
    if (!started_) {
        CLEAVE_ASSERT(!base, "a group with inherited state joins a running host only");
        return add_group(id, initial_voters, sm);
    }
    if (stopping_) return Status(Errc::aborted, "node stopping");
    return run_on_io([&]() -> Status {
        if (find(id)) return Status::already_exists(fmt::format("group {} is here", id.value()));
        CLEAVE_ASSIGN_OR_RETURN(auto g, make_group(id, initial_voters, base, sm));
        Group* gp = g.get();
        // Under the lock, so that stop() (which sets stopping_ first, then
        // walks the groups under the shared lock) either sees this group
        // with its apply thread or this sees stopping_.
        std::unique_lock lock(groups_mu_);
        if (stopping_) return Status(Errc::aborted, "node stopping");
        groups_[id] = std::move(g);
        gp->apply_thread = std::thread([this, gp] { apply_loop(*gp); });
        log()->info("group {}: joined while running", id.value());
        return Status::ok();
    });
}

Status Host::change_membership(GroupId id, std::set<NodeId> voters, std::set<NodeId> learners,
                               std::chrono::milliseconds timeout) {
    Group* g = find(id);
    if (!g) return Status::not_found(fmt::format("no group {} here", id.value()));
    if (stopping_) return Status(Errc::aborted, "node stopping");
    const auto deadline = Clock::now() + timeout;
    Result<uint64_t> index = run_on_io([&]() -> Result<uint64_t> {
        if (g->fsm->role() != raft::Role::leader) return Status(Errc::not_leader, "not the leader");
        CLEAVE_ASSIGN_OR_RETURN(Index i, g->fsm->change_configuration(voters, learners));
        schedule_flush();
        return i.value();
    });
    CLEAVE_RETURN_IF_ERROR(index.status());
    {
        std::unique_lock lock(g->applied_mu);
        if (!g->applied_cv.wait_until(
                lock, deadline, [&] { return g->applied.load() >= *index || stopping_.load(); }))
            return Status::unavailable("membership change not applied in time");
    }
    // Then until the final configuration is committed: a joint one still
    // needs the old voters' majority too, so a caller that stopped old
    // voters right after the joint entry could leave the group unable to
    // decide anything (seen under ASan in HostTest).
    while (!stopping_) {
        const bool done = run_on_io([&] {
            const raft::Configuration c = g->fsm->log().config_at(g->fsm->log().committed()).first;
            return !c.joint() && c.voters == voters && c.learners == learners;
        });
        if (done) return Status::ok();
        if (Clock::now() >= deadline)
            return Status::unavailable("final configuration not committed in time");
        std::unique_lock lock(g->applied_mu);
        g->applied_cv.wait_until(
            lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(options_.tick_ms)));
    }
    return Status(Errc::aborted, "node stopping");
}

Result<std::unique_ptr<Host::Group>> Host::make_group(GroupId id,
                                                      const std::set<NodeId>& initial_voters,
                                                      const BaseState* base,
                                                      GroupStateMachine& sm) {
    CLEAVE_ASSIGN_OR_RETURN(raft::SnapshotPtr snap, read_snapshot_file(options_.dir, id));
    if (!snap && base && base->index > 0) {
        // Inherited state (add_group_running): every initial member starts
        // from the same snapshot of it, kept in a file like any snapshot.
        auto s = std::make_shared<raft::Snapshot>();
        s->meta.index = Index{base->index};
        s->meta.config.voters = initial_voters;
        s->data = base->image;
        CLEAVE_RETURN_IF_ERROR(write_snapshot_file(options_.dir, id, *s));
        snap = s;
    } else if (!snap) {
        // Every initial member starts from the same empty snapshot listing the
        // voters; a restart without a snapshot file rebuilds the same one.
        auto s = std::make_shared<raft::Snapshot>();
        s->meta.config.voters = initial_voters;
        snap = s;
    }
    raft::PersistentState state;
    state.snapshot = snap;
    Replayed& rep = replayed_[id.value()];
    if (rep.has_hard_state) state.hard_state = rep.hard_state;
    uint64_t expect = snap->meta.index.value() + 1;
    for (auto& [index, e] : rep.entries) {
        if (index < expect) continue;
        if (index != expect) {
            return Status(Errc::corruption, fmt::format("group {}: WAL entries jump from {} to {}",
                                                        id.value(), expect - 1, index));
        }
        state.entries.push_back(std::move(e));
        ++expect;
    }
    if (sm.applied_index() < snap->meta.index.value()) {
        log()->info("group {}: installing snapshot at {} (state machine at {})", id.value(),
                    snap->meta.index.value(), sm.applied_index());
        CLEAVE_RETURN_IF_ERROR(sm.install(snap->meta.index.value(), snap->data));
    }

    auto g = std::make_unique<Group>();
    g->id = id;
    g->sm = &sm;
    g->record_last_index = std::move(rep.record_last_index);
    g->rng = std::make_unique<Random>(get_be(os_random_bytes(8), 8) ^
                                      (options_.id.value() * 0x9e3779b97f4a7c15ULL));
    raft::RaftOptions ro;
    ro.group = id;
    ro.id = options_.id;
    ro.election_timeout_ticks = options_.election_ticks;
    ro.heartbeat_interval_ticks = options_.heartbeat_ticks;
    ro.snapshot_trailing_entries = options_.trailing_entries;
    ro.async_persist = true;  // the WAL writer thread
    g->fsm = std::make_unique<raft::Fsm>(ro, *g->rng, std::move(state));
    g->applied = sm.applied_index();
    g->last_snapshot_index = snap->meta.index.value();
    g->last_image_bytes = snap->data.size();
    g->snapshot_file_index = snap->meta.index.value();
    // Read ids start at a random point: an answer the leader sends to this
    // node's previous incarnation must never match a request of this one
    // (it could carry an older read index: a stale read).
    g->next_read_id = (get_be(os_random_bytes(8), 8) >> 1) | 1;
    log()->info("group {}: restored at term {} with log ({}, {}], applied {}", id.value(),
                g->fsm->term().value(), snap->meta.index.value(),
                g->fsm->log().last_index().value(), sm.applied_index());
    replayed_.erase(id.value());
    return g;
}

void Host::start() {
    started_ = true;
    for (auto& [id, g] : groups_) {
        Group* gp = g.get();
        gp->apply_thread = std::thread([this, gp] { apply_loop(*gp); });
    }
    auto alive = alive_;
    asio::co_spawn(io_, tick_loop(), asio::detached);
}

void Host::stop() {
    if (stopping_.exchange(true)) return;
    std::shared_lock groups_lock(groups_mu_);
    for (auto& [id, g] : groups_) {
        {
            std::lock_guard lock(g->apply_mu);
            g->apply_stop = true;
        }
        g->apply_cv.notify_all();
    }
    for (auto& [id, g] : groups_) {
        if (g->apply_thread.joinable()) g->apply_thread.join();
        std::lock_guard lock(g->proposals_mu);
        for (auto& [index, p] : g->proposals)
            p.done->set_value(Status(Errc::aborted, "node stopping"));
        g->proposals.clear();
        g->applied_cv.notify_all();
    }
    {
        // The writer drains its queue first: what was handed off is written.
        std::lock_guard lock(wal_mu_);
        wal_stop_ = true;
    }
    wal_cv_.notify_all();
    if (wal_thread_.joinable()) wal_thread_.join();
    // The timer and the pending reads belong to the io thread.
    auto alive = alive_;
    asio::post(io_, [this, alive] {
        if (!*alive) return;
        if (tick_timer_) tick_timer_->cancel();
        for (auto& [id, g] : groups_) {
            for (auto& [rid, r] : g->reads)
                r.done->set_value(Status(Errc::aborted, "node stopping"));
            g->reads.clear();
        }
    });
}

Host::Group* Host::find(GroupId id) const {
    std::shared_lock lock(groups_mu_);
    auto it = groups_.find(id);
    return it == groups_.end() ? nullptr : it->second.get();
}

std::vector<GroupId> Host::groups() const {
    std::shared_lock lock(groups_mu_);
    std::vector<GroupId> out;
    for (const auto& [id, g] : groups_) out.push_back(id);
    return out;
}

template <typename F>
auto Host::run_on_io(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::promise<R> p;
    auto fut = p.get_future();
    asio::post(io_, [&] { p.set_value(fn()); });
    return fut.get();
}

// ---- the event loop ----------------------------------------------------------

void Host::schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    auto alive = alive_;
    // Posted, not run inline: everything already queued on the io_context
    // (messages, proposals) joins this flush, and so this WAL append.
    asio::post(io_, [this, alive] {
        if (*alive) flush();
    });
}

asio::awaitable<void> Host::tick_loop() {
    auto alive = alive_;
    tick_timer_ = std::make_unique<asio::steady_timer>(io_);
    while (*alive && !stopping_) {
        tick_timer_->expires_after(std::chrono::milliseconds(options_.tick_ms));
        boost::system::error_code ec;
        co_await tick_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!*alive || stopping_) co_return;
        for (auto& [id, g] : groups_) {
            g->fsm->tick();
            expire_reads(*g);
        }
        flush();
    }
}

void Host::expire_reads(Group& g) {
    const auto now = Clock::now();
    for (auto it = g.reads.begin(); it != g.reads.end();) {
        if (it->second.deadline <= now) {
            it->second.done->set_value(Status::unavailable("read index timed out"));
            it = g.reads.erase(it);
        } else {
            ++it;
        }
    }
}

void Host::flush() {
    flush_scheduled_ = false;
    if (stopping_) return;
    std::vector<WalRecord> records;
    // Only entries, snapshots, terms and votes must be durable before the
    // messages that depend on them go out. A job that only moves commit
    // indexes (the leader learning a majority's acks, a follower told by the
    // next heartbeat) is written without an fdatasync: a crash may lose them,
    // and a restarted replica learns its commit index again from the leader.
    bool must_sync = false;
    std::vector<raft::Message> now;
    HeldForJob held;
    const uint64_t seq = handed_seq_ + 1;  // of the job this flush hands off, if any
    for (auto& [id, g] : groups_) {
        if (!g->fsm->has_ready()) continue;
        raft::Ready ready = g->fsm->get_ready();
        const uint64_t gid = id.value();
        // Everything of this group waits for this job.
        const bool barrier = ready.snapshot || ready.term_or_vote_changed;
        if (ready.snapshot) {
            // A snapshot from the leader replaces the log: durable first.
            Status s = persist_snapshot(*g, *ready.snapshot);
            if (!s.is_ok()) fatal(s.to_string());
            std::string mark;
            put_be(mark, ready.snapshot->meta.index.value(), 8);
            records.push_back({kSnapshotMark, gid, std::move(mark)});
            g->record_last_index.clear();
        }
        if (auto mark = ready.persist_mark()) {
            must_sync = true;
            g->record_last_index[next_lsn_ + records.size()] = mark->index.value();
            held.marks.push_back({g.get(), *mark});
            records.push_back({kEntries, gid, encode_entries(ready.entries)});
        }
        if (ready.hard_state)
            records.push_back({kHardState, gid, encode_hard_state(*ready.hard_state)});
        if (barrier) {
            must_sync = true;
            g->barrier_seq = seq;
        }
        const bool early_ok = g->barrier_seq <= durable_seq_;
        for (auto& m : ready.messages)
            (early_ok && raft::may_precede_persistence(m.type) ? now : held.messages)
                .push_back(std::move(m));
        for (const auto& rs : ready.read_states) {
            auto it = g->reads.find(rs.request_id);
            if (it == g->reads.end()) continue;
            it->second.done->set_value(rs.index.value());
            g->reads.erase(it);
        }
        g->fsm->advance(ready);
        // Committed entries are durable here (async_persist): apply now. A
        // snapshot's file is durable; the apply thread installs it.
        if (ready.snapshot || !ready.committed.empty())
            queue_apply(*g, {ready.snapshot, std::move(ready.committed)});
    }
    send_messages(now);
    if (!records.empty()) {
        held.seq = hand_off(std::move(records), must_sync, 0);
        held_.push_back(std::move(held));
    } else if (!held.messages.empty()) {
        // Nothing to write, but they may vouch for what an earlier job
        // still writes (an ack of entries in flight): after that job.
        if (held_.empty()) {
            send_messages(held.messages);
        } else {
            auto& back = held_.back().messages;
            std::move(held.messages.begin(), held.messages.end(), std::back_inserter(back));
        }
    }
    bool more = false;
    for (auto& [id, g] : groups_) {
        const uint64_t leader = g->fsm->leader().value();
        if (leader != g->leader.load()) {
            log()->info("group {}: leader {} (term {})", id.value(),
                        leader ? std::to_string(leader) : std::string("unknown"),
                        g->fsm->term().value());
        }
        g->leader = leader;
        const bool leading = g->fsm->role() == raft::Role::leader;
        if (g->was_leader && !leading) fail_proposals(*g);
        g->was_leader = leading;
        more = more || g->fsm->has_ready();
    }
    if (more) schedule_flush();
}

uint64_t Host::hand_off(std::vector<WalRecord> records, bool sync, uint64_t release_before) {
    WalJob job{++handed_seq_, next_lsn_, std::move(records), sync, release_before};
    next_lsn_ += job.records.size();
    {
        std::lock_guard lock(wal_mu_);
        wal_queue_.push_back(std::move(job));
    }
    wal_cv_.notify_one();
    return handed_seq_;
}

void Host::wal_writer_loop() {
    while (true) {
        std::deque<WalJob> jobs;
        {
            std::unique_lock lock(wal_mu_);
            wal_cv_.wait(lock, [&] { return wal_stop_ || !wal_queue_.empty(); });
            if (wal_queue_.empty()) return;  // stopping, and drained
            jobs.swap(wal_queue_);
        }
        // Group commit across flushes too: every job queued while the last
        // fdatasync ran shares this one.
        std::vector<WalRecord> records;
        bool sync = false;
        uint64_t release_before = 0;
        for (auto& j : jobs) {
            std::move(j.records.begin(), j.records.end(), std::back_inserter(records));
            sync = sync || j.sync;
            release_before = std::max(release_before, j.release_before);
        }
        if (!records.empty()) {
            auto last = wal_->append(records, sync);
            if (!last.is_ok()) fatal(last.status().to_string());
            // The event loop numbered the records when it handed them off
            // (record_last_index, release_wal): the WAL must agree.
            const uint64_t first = *last + 1 - records.size();
            if (first != jobs.front().first_lsn)
                fatal(fmt::format("WAL numbered records from {}, expected {}", first,
                                  jobs.front().first_lsn));
        }
        if (release_before) {
            Status s = wal_->release_before(release_before);
            if (!s.is_ok()) log()->warn("releasing WAL segments: {}", s.to_string());
        }
        const uint64_t seq = jobs.back().seq;
        auto alive = alive_;
        asio::post(io_, [this, alive, seq] {
            if (*alive) on_durable(seq);
        });
    }
}

void Host::on_durable(uint64_t seq) {
    durable_seq_ = seq;
    std::vector<raft::Message> messages;
    while (!held_.empty() && held_.front().seq <= seq) {
        HeldForJob& h = held_.front();
        for (const auto& [g, mark] : h.marks) g->fsm->persisted(mark);
        std::move(h.messages.begin(), h.messages.end(), std::back_inserter(messages));
        held_.pop_front();
    }
    send_messages(messages);
    schedule_flush();
}

void Host::queue_apply(Group& g, ApplyItem item) {
    {
        std::lock_guard lock(g.apply_mu);
        g.apply_queue.push_back(std::move(item));
    }
    g.apply_cv.notify_one();
}

void Host::send_messages(std::vector<raft::Message>& messages) {
    std::map<uint64_t, std::vector<raft::Message>> by_node;
    for (auto& m : messages) by_node[m.to.value()].push_back(std::move(m));
    for (auto& [node, ms] : by_node) {
        // One frame per destination node (split only when very large).
        std::vector<raft::Message> batch;
        size_t bytes = 0;
        auto ship = [&] {
            if (batch.empty()) return;
            std::string body(1, wire::kRaftBatch);
            body += encode_batch(batch);
            Status s = transport_.send(node, std::move(body));
            if (!s.is_ok()) log()->debug("raft batch to {} dropped: {}", node, s.to_string());
            batch.clear();
            bytes = 0;
        };
        for (auto& m : ms) {
            const size_t n = approx_size(m);
            if (bytes + n > kBatchBytes) ship();
            bytes += n;
            batch.push_back(std::move(m));
        }
        ship();
    }
}

void Host::on_raft_batch(uint64_t from, std::string_view body) {
    auto batch = decode_batch(body);
    if (!batch.is_ok()) {
        log()->warn("bad raft batch from node {}: {}", from, batch.status().to_string());
        return;
    }
    for (auto& m : *batch) {
        Group* g = find(m.group);
        if (!g || m.from.value() != from) continue;
        if (m.type == raft::MessageType::install_snapshot) {
            // The message carries only the metadata: pull the image first.
            if (g->fetching_snapshot || !m.snapshot) continue;
            g->fetching_snapshot = true;
            asio::co_spawn(io_, fetch_snapshot(g->id, from, std::move(m)), asio::detached);
            continue;
        }
        g->fsm->step(std::move(m));
    }
    schedule_flush();
}

asio::awaitable<void> Host::fetch_snapshot(GroupId group, uint64_t from, raft::Message m) {
    auto alive = alive_;
    const uint64_t index = m.snapshot->meta.index.value();
    log()->info("group {}: fetching snapshot at {} from node {}", group.value(), index, from);
    std::string data;
    uint64_t total = 0;
    Status failed = Status::ok();
    do {
        std::string req(1, wire::kSnapshotPiece);
        put_be(req, group.value(), 8);
        put_be(req, index, 8);
        put_be(req, data.size(), 8);
        auto piece = co_await transport_.call(from, std::move(req), 30000);
        if (!*alive) co_return;
        if (!piece.is_ok()) {
            failed = piece.status();
            break;
        }
        if (piece->size() < 8) {
            failed = Status(Errc::corruption, "short snapshot piece");
            break;
        }
        total = get_be(*piece, 8);
        data.append(*piece, 8);
        if (piece->size() == 8 && data.size() < total) {
            failed = Status(Errc::corruption, "empty snapshot piece");
            break;
        }
    } while (data.size() < total);
    Group* g = find(group);
    if (!g || stopping_) co_return;
    g->fetching_snapshot = false;
    if (!failed.is_ok()) {
        // The leader sends the snapshot again after a timeout.
        log()->warn("group {}: snapshot fetch from {} failed: {}", group.value(), from,
                    failed.to_string());
        co_return;
    }
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta = m.snapshot->meta;
    snap->data = std::move(data);
    m.snapshot = std::move(snap);
    log()->info("group {}: snapshot at {} received ({} bytes)", group.value(), index, total);
    g->fsm->step(std::move(m));
    schedule_flush();
}

asio::awaitable<Result<std::string>> Host::on_snapshot_piece(uint64_t from, std::string body) {
    (void)from;
    if (body.size() < 1 + 24) co_return Status::invalid_argument("short snapshot piece request");
    std::string_view b(body);
    b.remove_prefix(1);
    Group* g = find(GroupId{get_be(b.substr(0, 8), 8)});
    const uint64_t index = get_be(b.substr(8, 8), 8);
    const uint64_t offset = get_be(b.substr(16, 8), 8);
    if (!g) co_return Status(Errc::not_found, "no such group");
    const raft::SnapshotPtr& snap = g->fsm->log().snapshot();
    if (!snap || snap->meta.index.value() != index)
        co_return Status::precondition_failed("snapshot replaced; wait for the next one");
    if (offset > snap->data.size()) co_return Status::invalid_argument("offset past the end");
    std::string out;
    put_be(out, snap->data.size(), 8);
    out.append(snap->data, offset, options_.snapshot_piece_bytes);
    co_return out;
}

// ---- proposals and reads -----------------------------------------------------

Result<std::string> Host::propose(GroupId id, std::string command,
                                  std::chrono::milliseconds timeout) {
    Group* g = find(id);
    if (!g) return Status(Errc::not_found, fmt::format("no group {} here", id.value()));
    if (stopping_) return Status(Errc::aborted, "node stopping");
    auto done = std::make_shared<std::promise<Result<std::string>>>();
    auto fut = done->get_future();
    auto alive = alive_;
    asio::post(io_, [this, alive, g, done, cmd = std::move(command)]() mutable {
        if (!*alive || stopping_) {
            done->set_value(Status(Errc::aborted, "node stopping"));
            return;
        }
        if (g->fsm->role() != raft::Role::leader) {
            done->set_value(Status(Errc::not_leader, "not the leader"));
            return;
        }
        const Term term = g->fsm->term();
        auto index = g->fsm->propose(std::move(cmd));
        if (!index.is_ok()) {
            done->set_value(index.status());
            return;
        }
        {
            std::lock_guard lock(g->proposals_mu);
            g->proposals[index->value()] = {term, done};
        }
        schedule_flush();
    });
    if (fut.wait_for(timeout) != std::future_status::ready)
        return Status::unavailable("proposal timed out; its outcome is unknown");
    return fut.get();
}

Status Host::read_barrier(GroupId id, std::chrono::milliseconds timeout) {
    Group* g = find(id);
    if (!g) return Status(Errc::not_found, fmt::format("no group {} here", id.value()));
    const auto deadline = Clock::now() + timeout;
    auto done = std::make_shared<std::promise<Result<uint64_t>>>();
    auto fut = done->get_future();
    auto alive = alive_;
    asio::post(io_, [this, alive, g, done, deadline] {
        if (!*alive || stopping_) {
            done->set_value(Status(Errc::aborted, "node stopping"));
            return;
        }
        const uint64_t rid = g->next_read_id++;
        Status s = g->fsm->read_index(rid);
        if (!s.is_ok()) {
            done->set_value(s);
            return;
        }
        g->reads[rid] = {done, deadline};
        schedule_flush();
    });
    if (fut.wait_until(deadline + std::chrono::milliseconds(options_.tick_ms * 2)) !=
        std::future_status::ready)
        return Status::unavailable("read index timed out");
    CLEAVE_ASSIGN_OR_RETURN(uint64_t index, fut.get());
    std::unique_lock lock(g->applied_mu);
    if (!g->applied_cv.wait_until(lock, deadline,
                                  [&] { return g->applied.load() >= index || stopping_.load(); }))
        return Status::unavailable(fmt::format("replica has not applied {} yet", index));
    if (stopping_) return Status(Errc::aborted, "node stopping");
    return Status::ok();
}

NodeId Host::leader(GroupId id) const {
    Group* g = find(id);
    return g ? NodeId{g->leader.load()} : NodeId{};
}

GroupStatus Host::status(GroupId id) {
    Group* g = find(id);
    if (!g) return GroupStatus{id, "absent", Term{}, NodeId{}, 0, 0, 0, 0, {}};
    GroupStatus st = run_on_io([&] {
        const raft::Fsm& f = *g->fsm;
        GroupStatus s;
        s.group = id;
        s.role = raft::role_name(f.role());
        s.term = f.term();
        s.leader = f.leader();
        s.commit = f.log().committed().value();
        s.last_index = f.log().last_index().value();
        s.snapshot_index = f.log().snapshot()->meta.index.value();
        const auto& cfg = f.configuration();
        for (NodeId n : cfg.members()) {
            ReplicaStatus r{n, 0, cfg.is_voter(n)};
            if (const raft::Progress* p = f.progress(n)) r.match = p->match().value();
            s.replicas.push_back(r);
        }
        return s;
    });
    st.applied = g->applied.load();
    return st;
}

// ---- applying ----------------------------------------------------------------

void Host::fail_proposals(Group& g) {
    // Leadership lost. An entry already committed is applied here all the
    // same, and apply_entries answers its proposer then (a leader removing
    // itself commits everything before its final configuration, and steps
    // down the moment that commits, often before its apply thread caught
    // up). Any later entry may still commit under the next leader, or be
    // overwritten: its proposer is told "unknown" now instead of waiting
    // out its timeout.
    const uint64_t committed = g.fsm->log().committed().value();
    std::lock_guard lock(g.proposals_mu);
    for (auto it = g.proposals.upper_bound(committed); it != g.proposals.end();) {
        it->second.done->set_value(Status::unavailable("leadership lost; outcome unknown"));
        it = g.proposals.erase(it);
    }
}

void Host::apply_loop(Group& g) {
    while (true) {
        std::deque<ApplyItem> items;
        std::deque<std::shared_ptr<std::promise<Status>>> compacts;
        {
            std::unique_lock lock(g.apply_mu);
            g.apply_cv.wait(lock, [&] {
                return g.apply_stop || !g.apply_queue.empty() || !g.compact_requests.empty();
            });
            if (g.apply_stop) {
                for (auto& c : g.compact_requests) c->set_value(Status(Errc::aborted, "stopping"));
                g.compact_requests.clear();
                return;
            }
            items.swap(g.apply_queue);
            compacts.swap(g.compact_requests);
        }
        for (auto& item : items) {
            if (item.snapshot) {
                const uint64_t index = item.snapshot->meta.index.value();
                if (index > g.sm->applied_index()) {
                    Status s = g.sm->install(index, item.snapshot->data);
                    if (!s.is_ok()) fatal("installing a snapshot: " + s.to_string());
                    log()->info("group {}: installed snapshot at {}", g.id.value(), index);
                }
                g.last_snapshot_index = index;
                g.last_image_bytes = item.snapshot->data.size();
                g.bytes_since_snapshot = 0;
                {
                    std::lock_guard lock(g.proposals_mu);
                    for (auto it = g.proposals.begin();
                         it != g.proposals.end() && it->first <= index;) {
                        it->second.done->set_value(
                            Status::unavailable("replaced by a snapshot; outcome unknown"));
                        it = g.proposals.erase(it);
                    }
                }
                g.applied = g.sm->applied_index();
            }
            apply_entries(g, item.entries);
        }
        { std::lock_guard lock(g.applied_mu); }
        g.applied_cv.notify_all();
        maybe_snapshot(g, !compacts.empty());
        for (auto& c : compacts) c->set_value(Status::ok());
    }
}

void Host::apply_entries(Group& g, const std::vector<raft::Entry>& entries) {
    for (const auto& e : entries) {
        const uint64_t index = e.index.value();
        if (index <= g.sm->applied_index()) continue;  // durable before a restart
        std::string_view data;
        if (e.type == raft::EntryType::command) data = e.data;
        g.bytes_since_snapshot += e.data.size();
        auto answer = g.sm->apply(index, data);
        if (!answer.is_ok())
            fatal(fmt::format("applying entry {}: {}", index, answer.status().to_string()));
        g.applied = index;
        std::lock_guard lock(g.proposals_mu);
        auto it = g.proposals.find(index);
        if (it == g.proposals.end()) continue;
        if (it->second.term == e.term) {
            it->second.done->set_value(std::move(*answer));
        } else {
            // Another leader's entry took this index: ours was never committed.
            it->second.done->set_value(Status(Errc::not_leader, "leadership changed"));
        }
        g.proposals.erase(it);
    }
}

void Host::maybe_snapshot(Group& g, bool force) {
    const uint64_t applied = g.sm->applied_index();
    if (applied <= g.last_snapshot_index) return;
    if (!force && applied - g.last_snapshot_index < options_.snapshot_entries) return;
    // A snapshot costs the whole state (serialised, written, kept for
    // lagging followers); waiting for half of it in new log bytes keeps that
    // cost a constant per byte written instead of growing with the shard
    // (with 4 KiB objects it had become a fifth of a node's CPU).
    if (!force && g.bytes_since_snapshot < g.last_image_bytes / 2) return;
    auto image = g.sm->snapshot();
    if (!image.is_ok()) {
        log()->error("group {}: snapshot failed: {}", g.id.value(), image.status().to_string());
        return;
    }
    const uint64_t index = image->first;
    // The core takes the image on the io thread; the file, which may be
    // large, is written here, off the event loop; only then may the WAL
    // behind it be released.
    auto taken = run_on_io([&]() -> Result<std::pair<raft::SnapshotPtr, uint64_t>> {
        if (index <= g.fsm->log().snapshot()->meta.index.value())
            return std::pair<raft::SnapshotPtr, uint64_t>{nullptr, 0};
        CLEAVE_ASSIGN_OR_RETURN(Index first,
                                g.fsm->take_snapshot(Index{index}, std::move(image->second)));
        return std::pair{g.fsm->log().snapshot(), first.value()};
    });
    if (!taken.is_ok()) {
        log()->warn("group {}: snapshot at {} not taken: {}", g.id.value(), index,
                    taken.status().to_string());
        return;
    }
    if (const auto& [snap, first] = *taken; snap) {
        Status s = persist_snapshot(g, *snap);
        if (!s.is_ok()) {
            // The old file and the whole WAL still describe the group.
            log()->warn("group {}: snapshot at {} not written: {}", g.id.value(), index,
                        s.to_string());
            return;
        }
        run_on_io([&, first = first] {
            for (auto it = g.record_last_index.begin(); it != g.record_last_index.end();) {
                if (it->second < first)
                    it = g.record_last_index.erase(it);
                else
                    ++it;
            }
            log()->info("group {}: snapshot at {}, log kept from {}", g.id.value(), index, first);
            release_wal();
            return 0;
        });
        g.last_image_bytes = snap->data.size();
    }
    g.last_snapshot_index = index;
    g.bytes_since_snapshot = 0;
}

Status Host::persist_snapshot(Group& g, const raft::Snapshot& snap) {
    std::lock_guard lock(g.snapshot_file_mu);
    const uint64_t index = snap.meta.index.value();
    if (index <= g.snapshot_file_index) return Status::ok();  // a newer one is there
    CLEAVE_RETURN_IF_ERROR(write_snapshot_file(options_.dir, g.id, snap));
    g.snapshot_file_index = index;
    return Status::ok();
}

void Host::release_wal() {
    // Re-record every group's hard state so that the newest copy survives
    // the release of the segments holding older ones.
    std::vector<WalRecord> records;
    for (auto& [id, g] : groups_) {
        raft::HardState hs{g->fsm->term(), g->fsm->vote(), g->fsm->log().committed()};
        records.push_back({kHardState, id.value(), encode_hard_state(hs)});
    }
    uint64_t keep = next_lsn_;  // the first of these records
    for (auto& [id, g] : groups_) {
        if (!g->record_last_index.empty())
            keep = std::min(keep, g->record_last_index.begin()->first);
    }
    hand_off(std::move(records), true, keep);
}

Status Host::compact(GroupId id) {
    Group* g = find(id);
    if (!g) return Status(Errc::not_found, fmt::format("no group {} here", id.value()));
    auto done = std::make_shared<std::promise<Status>>();
    auto fut = done->get_future();
    {
        std::lock_guard lock(g->apply_mu);
        if (g->apply_stop) return Status(Errc::aborted, "stopping");
        g->compact_requests.push_back(done);
    }
    g->apply_cv.notify_one();
    return fut.get();
}

}  // namespace cleave::multiraft

namespace cleave::multiraft {
uint64_t Host::wal_syncs() const { return wal_ ? wal_->syncs() : 0; }
}  // namespace cleave::multiraft
