#pragma once
// Messages between replicas of one group. One flat struct, as in etcd: most
// fields are shared by several types, and a flat struct is trivial for the
// network layer to map onto protobuf. Field meaning per type is listed below.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/strong_id.h"
#include "raft/types.h"

namespace cleave::raft {

enum class MessageType : uint8_t {
    append,               // AppendEntries (3.5): log_index/log_term = previous entry
    append_response,      // log_index = last index now matching, or the rejected prev index
    vote,                 // RequestVote (3.4): log_index/log_term = candidate's last entry
    vote_response,        // reject = vote denied
    pre_vote,             // PreVote (9.6): term = candidate's term + 1, nobody changes term
    pre_vote_response,    //
    heartbeat,            // empty AppendEntries (3.4); context = heartbeat round (6.4)
    heartbeat_response,   // context = echoed round
    install_snapshot,     // InstallSnapshot (5.1, 5.3): snapshot
    read_index,           // follower -> leader (6.4): context = request id
    read_index_response,  // leader -> follower: log_index = read index, context = request id
    timeout_now,          // leadership transfer (3.10): campaign now
};

std::string_view message_type_name(MessageType type);

// Asynchronous persistence (ready.h): whether a message may leave before the
// write of the Ready that carries it is durable, because it vouches for no
// durable state of its sender: a leader's appends and heartbeats (the leader
// counts its own copy only once durable, thesis 10.2.1), heartbeat answers
// and ReadIndex traffic. Acknowledgements of entries and votes may not. None
// may while a term or vote change (Ready::term_or_vote_changed) or a
// snapshot of the sender is still being written.
bool may_precede_persistence(MessageType type);

struct Message {
    MessageType type = MessageType::append;
    GroupId group;
    NodeId from;
    NodeId to;
    Term term;
    Index log_index;
    Term log_term;
    Index commit;
    std::vector<Entry> entries;
    SnapshotPtr snapshot;
    bool reject = false;
    Index reject_hint;  // append_response: where the leader should probe next (3.5)
    Term reject_term;   // append_response: follower's term at reject_hint
    uint64_t context = 0;
    bool force = false;  // vote: a leadership transfer, overrides stickiness (3.10, 4.2.3)
};

}  // namespace cleave::raft
