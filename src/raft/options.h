#pragma once
// Static options of one replica. All durations are in ticks: the host decides
// how long a tick is (the core never reads a clock).

#include <cstdint>
#include <string>

#include "common/strong_id.h"

namespace cleave::raft {

// Known-wrong behaviours the simulator must be able to catch (its self-test).
// Selectable only in a build configured with -DCLEAVE_PLANT_RAFT_BUGS=ON.
enum class PlantedBug : uint8_t {
    none = 0,
    commit_previous_term = 1,  // count replicas of an old-term entry (violates 3.6.2)
    follower_local_read = 2,   // follower answers ReadIndex from its own commit (violates 6.4)
    double_vote = 3,           // grant a second vote in one term (violates 3.4)
};

struct RaftOptions {
    GroupId group;
    NodeId id;
    // Followers start an election after [election_timeout, 2*election_timeout)
    // ticks without a leader (3.4); a leader heartbeats every heartbeat_interval.
    uint32_t election_timeout_ticks = 10;
    uint32_t heartbeat_interval_ticks = 1;
    bool pre_vote = true;      // 9.6: no term inflation from partitioned nodes
    bool check_quorum = true;  // 6.2: a leader without a live quorum steps down
    // Flow control (10.2.1): at most this many append messages in flight per
    // follower in the pipelined state, each with at most max_entries entries.
    uint32_t max_inflight_messages = 8;
    uint32_t max_entries_per_message = 64;
    // Leader lease reads (6.4.1). Off by default: they rely on clocks. The
    // lease lasts election_timeout - max_clock_drift ticks from the moment the
    // leader *sent* the heartbeat a quorum acknowledged. Requires check_quorum.
    bool lease_reads = false;
    uint32_t max_clock_drift_ticks = 0;
    // Log compaction (5.1): entries kept behind a snapshot's index, so that
    // slightly lagging followers catch up from the log instead of a snapshot.
    uint64_t snapshot_trailing_entries = 16;
    // When set, a Ready asks the host to take a snapshot (Ready::snapshot_due)
    // once this many entries were applied since the last one. 0: never; the
    // host decides on its own.
    uint64_t snapshot_threshold_entries = 0;
    // Asynchronous persistence (ready.h): advance() only marks a Ready's
    // entries as being written, the host reports them durable later with
    // Fsm::persisted(), and committed entries are handed out for applying
    // only once durable here.
    bool async_persist = false;
#ifdef CLEAVE_PLANT_RAFT_BUGS
    PlantedBug planted_bug = PlantedBug::none;
#endif
};

// Empty string when valid, else the reason.
std::string validate(const RaftOptions& options);

}  // namespace cleave::raft
