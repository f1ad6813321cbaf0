#include "sim/format.h"

#include <fmt/format.h>

namespace cleave::sim {
namespace {

std::string ids(const std::set<NodeId>& set) {
    std::string out;
    for (NodeId id : set) {
        if (!out.empty()) out += ',';
        out += std::to_string(id.value());
    }
    return out;
}

}  // namespace

std::string format_config(const raft::Configuration& c) {
    std::string out = "v=" + ids(c.voters);
    if (c.joint()) out += " o=" + ids(c.voters_outgoing);
    if (!c.learners.empty()) out += " l=" + ids(c.learners);
    return out;
}

std::string format_entry(const raft::Entry& e) {
    std::string body;
    switch (e.type) {
        case raft::EntryType::command:
            body = e.data;
            break;
        case raft::EntryType::noop:
            body = "noop";
            break;
        case raft::EntryType::configuration:
            body = "conf(" + format_config(e.config) + ")";
            break;
    }
    return fmt::format("{}/{}:{}", e.index, e.term, body);
}

std::string format_message(const raft::Message& m) {
    using raft::MessageType;
    std::string out =
        fmt::format("{}->{} {} t{}", m.from, m.to, raft::message_type_name(m.type), m.term);
    switch (m.type) {
        case MessageType::append: {
            out += fmt::format(" prev={}/{} commit={} [", m.log_index, m.log_term, m.commit);
            for (size_t i = 0; i < m.entries.size(); ++i) {
                if (i) out += ' ';
                out += format_entry(m.entries[i]);
            }
            out += ']';
            break;
        }
        case MessageType::append_response:
            if (m.reject) {
                out +=
                    fmt::format(" reject={} hint={}/{}", m.log_index, m.reject_hint, m.reject_term);
            } else {
                out += fmt::format(" index={}", m.log_index);
            }
            break;
        case MessageType::vote:
        case MessageType::pre_vote:
            out += fmt::format(" last={}/{}{}", m.log_index, m.log_term, m.force ? " force" : "");
            break;
        case MessageType::vote_response:
        case MessageType::pre_vote_response:
            out += m.reject ? " rejected" : " granted";
            break;
        case MessageType::heartbeat:
            out += fmt::format(" commit={} round={}", m.commit, m.context);
            break;
        case MessageType::heartbeat_response:
            out += fmt::format(" round={}", m.context);
            break;
        case MessageType::install_snapshot:
            out += fmt::format(" snap={}/{} ({})", m.snapshot->meta.index, m.snapshot->meta.term,
                               format_config(m.snapshot->meta.config));
            break;
        case MessageType::read_index:
            out += fmt::format(" req={}", m.context);
            break;
        case MessageType::read_index_response:
            out += fmt::format(" req={} index={}", m.context, m.log_index);
            break;
        case MessageType::timeout_now:
            break;
    }
    return out;
}

std::string format_status(const raft::Fsm& f) {
    const auto& log = f.log();
    return fmt::format("{} {} t{} vote={} lead={} last={}/{} commit={} applied={} snap={} ({})",
                       f.id(), raft::role_name(f.role()), f.term(), f.vote(), f.leader(),
                       log.last_index(), log.last_term(), log.committed(), log.applied(),
                       log.snapshot()->meta.index, format_config(f.configuration()));
}

}  // namespace cleave::sim
