#pragma once
// Host: runs the Raft groups of one node (DESIGN.md §5). Every group's pure
// core (raft::Fsm) is driven from one event loop, the node's io_context:
//
//   transport ──R batch──▶ step ─┐
//   tick timer ─────────▶ tick  ─┼─▶ flush: every group's Ready at once
//   propose/read (any thread) ───┘      1. snapshot files; every group's entries
//                                          and hard states handed to the WAL
//                                          writer as one job
//                                       2. a leader's appends and heartbeats
//                                          sent, batched per destination node
//                                       3. committed entries → the group's
//                                          apply thread; read states answered
//   WAL writer (one thread): writes every job queued since its last write
//   with ONE append + fdatasync (group commit), then tells the event loop,
//   which sends the messages held for those jobs (acknowledgements, votes)
//   and reports the entries durable to the cores (Fsm::persisted).
//   apply thread (one per group): applies in order, answers proposers,
//   wakes readers, takes a snapshot after `snapshot_entries` entries (and
//   at least half the last snapshot's size in log bytes) and
//   then compacts the log and releases WAL segments.
//
// The event loop never waits for the disk: while one fdatasync runs it
// steps the messages and proposals that arrive, so a leader commits on its
// followers' acks and the next job gathers everything until the disk is
// free (Raft thesis 10.2.1; raft/ready.h, asynchronous persistence).
//
// Persist before send, always: a message that vouches for durable state
// leaves only after the write that made that state durable, and every
// write before it, returned.
//
// Snapshots travel in pieces: the install_snapshot message carries only the
// metadata; the receiver pulls the image from the sender in pieces (a frame
// is bounded), then steps the message with the data into its core.
//
// Threading: add_group/start/stop from the owner; propose, read_index,
// wait_applied, status and compact from any thread except the io_context's
// (they block).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/random.h"
#include "common/status.h"
#include "common/strong_id.h"
#include "multiraft/group_state_machine.h"
#include "multiraft/wal.h"
#include "raft/fsm.h"
#include "rpc/transport.h"

namespace cleave::multiraft {

struct HostOptions {
    NodeId id;
    std::string dir;  // the WAL and snapshot files
    int64_t tick_ms = 100;
    uint32_t election_ticks = 10;  // 1-2 s without a leader starts an election
    uint32_t heartbeat_ticks = 1;
    // Applied entries between snapshots; a snapshot also waits for half the
    // last one's size in applied log bytes (its cost is the whole state).
    uint64_t snapshot_entries = 10000;
    uint64_t trailing_entries = 1000;  // log kept behind a snapshot for lagging followers
    bool wal_sync = true;
    size_t snapshot_piece_bytes = 4 << 20;
};

struct ReplicaStatus {
    NodeId node;
    uint64_t match = 0;  // leader's view of the replica's log
    bool voter = true;
};

struct GroupStatus {
    GroupId group;
    std::string role;
    Term term;
    NodeId leader;
    uint64_t commit = 0;
    uint64_t applied = 0;
    uint64_t last_index = 0;
    uint64_t snapshot_index = 0;
    std::vector<ReplicaStatus> replicas;  // every member; match known on the leader only
};

class Host {
  public:
    Host(boost::asio::io_context& io, rpc::Transport& transport, HostOptions options);
    // fdatasyncs of the shared WAL since start (one per write of the WAL
    // writer, which covers every group: group commit).
    uint64_t wal_syncs() const;
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Opens the WAL and replays it. Before add_group.
    Status open();
    // Restores the group from its snapshot file and the WAL, or bootstraps it
    // with `initial_voters` when it has no state at all. Installs the
    // snapshot into `sm` if `sm` is behind it. Before start(). `sm` must
    // outlive the host.
    Status add_group(GroupId group, const std::set<NodeId>& initial_voters, GroupStateMachine& sm);
    // Joins a group while running: this node becomes a new replica of an
    // existing group (the leader adds it as a learner). It starts from its
    // own state if it has any, else empty, and catches up from the leader's
    // log or a snapshot. Any thread; before start() it is add_group. With
    // `initial_voters`, a group that has no state here bootstraps with them,
    // as at cluster start (a split's child, born on every parent replica).
    //
    // `base`: the state `sm` already holds did not come from this group's
    // log (a split's child starts from its parent's data). The group then
    // bootstraps from a snapshot at base.index (> 0) holding base.image —
    // durable before this returns — instead of the empty one at 0, so a
    // replica added later gets that snapshot: replaying the log from index
    // 1 would miss the inherited state.
    struct BaseState {
        uint64_t index = 0;
        std::string image;
    };
    Status add_group_running(GroupId group, GroupStateMachine& sm,
                             const std::set<NodeId>& initial_voters = {},
                             const BaseState* base = nullptr);
    // Leader only: moves the group to `voters` and `learners` (through a
    // joint configuration when voters change) and waits until the change is
    // applied here. not_leader on a follower; unavailable while another
    // change is still in progress or when it is not applied in time.
    Status change_membership(GroupId group, std::set<NodeId> voters, std::set<NodeId> learners,
                             std::chrono::milliseconds timeout);
    // Starts ticking and the apply threads. Call from any thread.
    void start();
    // Stops the apply threads; pending calls fail with aborted.
    void stop();

    // The transport's frames for the host (wire.h: kRaftBatch, kSnapshotPiece).
    void on_raft_batch(uint64_t from, std::string_view body);
    boost::asio::awaitable<Result<std::string>> on_snapshot_piece(uint64_t from, std::string body);

    // Proposes `command` on this node, which must lead the group (else
    // not_leader; see leader()). Returns the state machine's answer once
    // applied here; unavailable when the outcome is unknown (timeout).
    Result<std::string> propose(GroupId group, std::string command,
                                std::chrono::milliseconds timeout);
    // Linearizable read barrier (ReadIndex, dissertation 6.4): returns once
    // this replica applied everything committed when the call began.
    Status read_barrier(GroupId group, std::chrono::milliseconds timeout);
    // The leader this node knows of (NodeId{} when none).
    NodeId leader(GroupId group) const;
    GroupStatus status(GroupId group);
    // Takes a snapshot now and compacts the log behind it.
    Status compact(GroupId group);
    std::vector<GroupId> groups() const;

  private:
    struct Group;
    struct ApplyItem {
        raft::SnapshotPtr snapshot;
        std::vector<raft::Entry> entries;
    };

    Group* find(GroupId id) const;
    Result<std::unique_ptr<Group>> make_group(GroupId id, const std::set<NodeId>& initial_voters,
                                              const BaseState* base, GroupStateMachine& sm);
    void schedule_flush();
    // Hands committed entries (or a snapshot) to the group's apply thread.
    void queue_apply(Group& g, ApplyItem item);
    void flush();
    boost::asio::awaitable<void> tick_loop();
    void expire_reads(Group& g);
    void apply_loop(Group& g);
    void fail_proposals(Group& g);
    void apply_entries(Group& g, const std::vector<raft::Entry>& entries);
    void maybe_snapshot(Group& g, bool force);
    // Writes the group's snapshot file unless a newer one is there. Any thread.
    Status persist_snapshot(Group& g, const raft::Snapshot& snap);
    void release_wal();
    // The WAL writer's side: one job per flush, written in order.
    struct WalJob {
        uint64_t seq = 0;
        uint64_t first_lsn = 0;  // as numbered by the event loop
        std::vector<WalRecord> records;
        bool sync = false;
        uint64_t release_before = 0;  // then release segments below this LSN (0: none)
    };
    // The event loop's side of a job: what to do once it is durable.
    struct HeldForJob {
        struct Mark {
            Group* g;
            raft::PersistMark mark;
        };
        uint64_t seq = 0;
        std::vector<Mark> marks;
        std::vector<raft::Message> messages;
    };
    // On the io thread: hands records to the writer; returns the job's seq.
    uint64_t hand_off(std::vector<WalRecord> records, bool sync, uint64_t release_before);
    void wal_writer_loop();
    // On the io thread: every job up to `seq` is durable.
    void on_durable(uint64_t seq);
    boost::asio::awaitable<void> fetch_snapshot(GroupId group, uint64_t from, raft::Message m);
    void send_messages(std::vector<raft::Message>& messages);
    // Runs fn on the io thread and waits for it.
    template <typename F>
    auto run_on_io(F&& fn) -> decltype(fn());

    boost::asio::io_context& io_;
    rpc::Transport& transport_;
    const HostOptions options_;
    std::unique_ptr<Wal> wal_;
    // Replayed from the WAL, consumed by add_group.
    struct Replayed {
        raft::HardState hard_state;
        bool has_hard_state = false;
        std::map<uint64_t, raft::Entry> entries;
        std::map<uint64_t, uint64_t> record_last_index;  // lsn -> last entry index in it
    };
    std::map<uint64_t, Replayed> replayed_;

    // Added to before start() by the caller, after it on the io thread only
    // (under groups_mu_ exclusively); never removed. Other threads look up
    // under groups_mu_ shared; the io thread iterates without it.
    std::map<GroupId, std::unique_ptr<Group>> groups_;
    mutable std::shared_mutex groups_mu_;
    bool flush_scheduled_ = false;  // io thread

    // Jobs handed off (io thread) and the writer's queue.
    uint64_t next_lsn_ = 1;        // io thread: LSN of the next record handed off
    uint64_t handed_seq_ = 0;      // io thread: seq of the last job handed off
    uint64_t durable_seq_ = 0;     // io thread: every job up to this is durable
    std::deque<HeldForJob> held_;  // io thread: jobs not yet durable, in order
    std::mutex wal_mu_;
    std::condition_variable wal_cv_;
    std::deque<WalJob> wal_queue_;  // guarded by wal_mu_
    bool wal_stop_ = false;         // guarded by wal_mu_
    std::thread wal_thread_;
    bool started_ = false;
    std::atomic<bool> stopping_{false};
    std::unique_ptr<boost::asio::steady_timer> tick_timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace cleave::multiraft
