#include "raft/options.h"

namespace cleave::raft {

std::string validate(const RaftOptions& o) {
    if (o.id == NodeId{}) return "node id 0 is reserved for 'none'";
    if (o.election_timeout_ticks < 2) return "election_timeout_ticks must be >= 2";
    if (o.heartbeat_interval_ticks == 0 || o.heartbeat_interval_ticks >= o.election_timeout_ticks)
        return "heartbeat_interval_ticks must be in [1, election_timeout_ticks)";
    if (o.max_inflight_messages == 0) return "max_inflight_messages must be > 0";
    if (o.max_entries_per_message == 0) return "max_entries_per_message must be > 0";
    if (o.lease_reads && !o.check_quorum) return "lease_reads requires check_quorum";
    if (o.lease_reads && o.max_clock_drift_ticks >= o.election_timeout_ticks)
        return "max_clock_drift_ticks must be below election_timeout_ticks for lease reads";
    return {};
}

}  // namespace cleave::raft
