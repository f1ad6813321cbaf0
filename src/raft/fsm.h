#pragma once
// The Raft core of one replica, as a pure state machine (ScyllaDB raft/fsm,
// etcd raft). It owns no socket, file, thread or clock, and draws randomness
// only from an injected seeded Random, so a run is a function of its inputs:
//
//     inputs                          output (Ready, see ready.h)
//     step(message)      ──┐        ┌─> snapshot to install, entries and hard
//     tick()             ──┤        │   state to persist, messages to send,
//     propose(command)   ──┼─> Fsm ─┤   committed entries to apply, read
//     read_index(id)     ──┤        │   states to serve
//     change_configuration ┤        └─< advance(ready): the host is done
//     transfer_leadership ─┤
//     take_snapshot      ──┘
//
// Why not callbacks: a callback-style core runs host code in the middle of a
// protocol step, which makes "persist before send" and replaying a step in a
// simulator hard to get right; a returned batch makes both trivial.
//
// Threading: none. One owner calls it from one thread (or strand).
// Comments cite sections of Ongaro's dissertation "Consensus: Bridging Theory
// and Practice" (2014).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "common/strong_id.h"
#include "raft/config.h"
#include "raft/log.h"
#include "raft/messages.h"
#include "raft/options.h"
#include "raft/progress.h"
#include "raft/read_only.h"
#include "raft/ready.h"
#include "raft/types.h"

namespace cleave::raft {

enum class Role : uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(Role role);

class Fsm {
  public:
    // Starts (or restarts) a replica from what its host persisted. A brand-new
    // group is bootstrapped by giving every initial member a snapshot at index
    // 0 whose configuration lists the initial voters; a node joining later
    // starts empty and learns the configuration from the leader.
    // `rng` must outlive the Fsm. Asserts that `options` validate.
    Fsm(const RaftOptions& options, Random& rng, PersistentState state);
    Fsm(const Fsm&) = delete;
    Fsm& operator=(const Fsm&) = delete;

    // One logical clock tick: drives elections (3.4) and heartbeats.
    void tick();
    // Handles a message from another replica of this group (the host routes
    // by Message::group; the core does not look at it).
    void step(Message message);
    // Leader only: appends a command. Returns its index; the command is
    // committed iff the entry applied at that index is this one (same term).
    // not_leader when not leader, unavailable during a leadership transfer.
    Result<Index> propose(std::string command);
    // Starts a linearizable read (6.4). The answer arrives as a ReadState with
    // the same request_id in a later Ready; it may never arrive (leader change,
    // message loss): the host times out. Fails with not_leader on a follower
    // that knows no leader.
    Status read_index(uint64_t request_id);
    // Leader only: moves to the given voters and learners through a joint
    // configuration (4.3); the final configuration is appended automatically
    // once the joint one commits. One change at a time (unavailable if one is
    // in progress). Returns the index of the first configuration entry.
    Result<Index> change_configuration(std::set<NodeId> voters, std::set<NodeId> learners);
    // Leader only: hands leadership to a voter (3.10). Proposals are refused
    // until it completes or aborts (after an election timeout).
    Status transfer_leadership(NodeId target);
    // Starts an election now, as if the election timeout had elapsed.
    void campaign();
    // The host has serialised its state machine at `index` (<= applied) into
    // `data`: keep it as the snapshot to send to lagging followers, and drop
    // log entries older than index - snapshot_trailing_entries (5.1). Returns
    // the first retained index: the host may delete stored entries before it.
    Result<Index> take_snapshot(Index index, std::string data);

    bool has_ready() const;
    // Everything the host must do now (ready.h). Must be followed by advance().
    Ready get_ready();
    // The host persisted, sent, applied and served `ready`. With
    // async_persist: the host handed its entries and hard state to a writer,
    // and sent, applied and served the rest (ready.h).
    void advance(const Ready& ready);
    // async_persist only: the entries of the Ready with this mark, and
    // everything handed off before them, are durable. Not between
    // get_ready() and advance().
    void persisted(const PersistMark& mark);

    NodeId id() const { return options_.id; }
    Role role() const { return role_; }
    Term term() const { return term_; }
    NodeId vote() const { return vote_; }
    NodeId leader() const { return leader_; }
    const RaftLog& log() const { return log_; }
    const Configuration& configuration() const { return config_; }
    const RaftOptions& options() const { return options_; }
    // Leader only: the progress of a member, or null.
    const Progress* progress(NodeId id) const;
    NodeId transfer_target() const { return transfer_target_; }
    // Leader only: whether a lease read would be answered locally now.
    bool lease_valid() const;

  private:
    void become_follower(Term term, NodeId leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    void reset(Term term);
    void campaign_internal(bool allow_pre_vote, bool force);
    bool promotable() const;
    bool in_lease() const;
    void reset_randomized_timeout();
    bool planted(PlantedBug bug) const;

    void step_leader(Message& m);
    void step_candidate(Message& m);
    void step_follower(Message& m);

    void handle_append(Message& m);
    void handle_heartbeat(const Message& m);
    void handle_snapshot(const Message& m);
    void handle_vote_request(const Message& m);
    void handle_append_response(const Message& m);
    void handle_heartbeat_response(const Message& m);
    void on_vote_response(const Message& m);

    void send(Message m);
    bool send_append(NodeId to, bool send_if_empty);
    void broadcast_append();
    uint64_t broadcast_heartbeat();
    void append_entries(std::vector<Entry> entries);
    bool maybe_commit();
    void on_commit_advanced();
    bool committed_in_current_term() const;
    void leader_read(NodeId from, uint64_t request_id);
    void answer_read(NodeId from, uint64_t request_id, Index index);
    void release_reads();
    void reload_config();
    void sync_progress();
    Index self_match() const;

    const RaftOptions options_;
    Random& rng_;
    RaftLog log_;

    Role role_ = Role::follower;
    Term term_;
    NodeId vote_;
    NodeId leader_;
    Configuration config_;
    Index config_index_;  // index of the entry (or snapshot) that carried config_

    uint64_t ticks_ = 0;  // local logical clock, for the lease only
    uint32_t election_elapsed_ = 0;
    uint32_t heartbeat_elapsed_ = 0;
    uint32_t randomized_election_timeout_ = 0;
    // With lease reads, a freshly (re)started node treats itself as having
    // just heard from a leader, so a restart cannot cut a lease short (6.4.1).
    bool boot_sticky_ = false;

    std::map<NodeId, bool> votes_;
    std::map<NodeId, Progress> progress_;

    // ReadIndex (6.4) and lease (6.4.1) state, leader only, reset every term.
    ReadOnly read_only_;
    std::vector<std::pair<NodeId, uint64_t>> reads_waiting_for_commit_;
    uint64_t heartbeat_round_ = 0;
    std::map<uint64_t, uint64_t> round_sent_tick_;  // round -> ticks_ at send
    std::optional<uint64_t> lease_start_tick_;
    bool lease_disabled_ = false;  // set by a transfer for the rest of the term

    NodeId transfer_target_;
    uint32_t transfer_elapsed_ = 0;

    // Output accumulated for the next Ready.
    std::vector<Message> msgs_;
    std::vector<ReadState> read_states_;
    SnapshotPtr pending_snapshot_;
    HardState persisted_hard_state_;
    bool in_ready_ = false;
};

}  // namespace cleave::raft
