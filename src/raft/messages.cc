#include "raft/messages.h"

namespace cleave::raft {

std::string_view message_type_name(MessageType type) {
    switch (type) {
        case MessageType::append:
            return "MsgApp";
        case MessageType::append_response:
            return "MsgAppResp";
        case MessageType::vote:
            return "MsgVote";
        case MessageType::vote_response:
            return "MsgVoteResp";
        case MessageType::pre_vote:
            return "MsgPreVote";
        case MessageType::pre_vote_response:
            return "MsgPreVoteResp";
        case MessageType::heartbeat:
            return "MsgHeartbeat";
        case MessageType::heartbeat_response:
            return "MsgHeartbeatResp";
        case MessageType::install_snapshot:
            return "MsgSnap";
        case MessageType::read_index:
            return "MsgReadIndex";
        case MessageType::read_index_response:
            return "MsgReadIndexResp";
        case MessageType::timeout_now:
            return "MsgTimeoutNow";
    }
    return "MsgUnknown";
}

bool may_precede_persistence(MessageType type) {
    switch (type) {
        case MessageType::append:
        case MessageType::heartbeat:
        case MessageType::heartbeat_response:
        case MessageType::read_index:
        case MessageType::read_index_response:
            return true;
        default:
            return false;
    }
}

}  // namespace cleave::raft
