#include "multiraft/raft_codec.h"

#include <climits>
#include <memory>
#include <set>

#include "multiraft/raft.pb.h"

namespace cleave::multiraft {

namespace {

// ---- enums: explicit tables both ways, so the wire numbers never depend on
// the order of the C++ enumerators.

pb::EntryType to_pb(raft::EntryType t) {
    switch (t) {
        case raft::EntryType::command:
            return pb::ENTRY_COMMAND;
        case raft::EntryType::noop:
            return pb::ENTRY_NOOP;
        case raft::EntryType::configuration:
            return pb::ENTRY_CONFIGURATION;
    }
    CLEAVE_ASSERT(false, "unknown raft::EntryType {}", static_cast<int>(t));
    return pb::ENTRY_TYPE_UNSPECIFIED;
}

Result<raft::EntryType> from_pb(pb::EntryType t) {
    switch (t) {
        case pb::ENTRY_COMMAND:
            return raft::EntryType::command;
        case pb::ENTRY_NOOP:
            return raft::EntryType::noop;
        case pb::ENTRY_CONFIGURATION:
            return raft::EntryType::configuration;
        default:
            return Status::corruption(
                fmt::format("unknown raft entry type {}", static_cast<int>(t)));
    }
}

pb::MessageType to_pb(raft::MessageType t) {
    switch (t) {
        case raft::MessageType::append:
            return pb::MSG_APPEND;
        case raft::MessageType::append_response:
            return pb::MSG_APPEND_RESPONSE;
        case raft::MessageType::vote:
            return pb::MSG_VOTE;
        case raft::MessageType::vote_response:
            return pb::MSG_VOTE_RESPONSE;
        case raft::MessageType::pre_vote:
            return pb::MSG_PRE_VOTE;
        case raft::MessageType::pre_vote_response:
            return pb::MSG_PRE_VOTE_RESPONSE;
        case raft::MessageType::heartbeat:
            return pb::MSG_HEARTBEAT;
        case raft::MessageType::heartbeat_response:
            return pb::MSG_HEARTBEAT_RESPONSE;
        case raft::MessageType::install_snapshot:
            return pb::MSG_INSTALL_SNAPSHOT;
        case raft::MessageType::read_index:
            return pb::MSG_READ_INDEX;
        case raft::MessageType::read_index_response:
            return pb::MSG_READ_INDEX_RESPONSE;
        case raft::MessageType::timeout_now:
            return pb::MSG_TIMEOUT_NOW;
    }
    CLEAVE_ASSERT(false, "unknown raft::MessageType {}", static_cast<int>(t));
    return pb::MESSAGE_TYPE_UNSPECIFIED;
}

Result<raft::MessageType> from_pb(pb::MessageType t) {
    switch (t) {
        case pb::MSG_APPEND:
            return raft::MessageType::append;
        case pb::MSG_APPEND_RESPONSE:
            return raft::MessageType::append_response;
        case pb::MSG_VOTE:
            return raft::MessageType::vote;
        case pb::MSG_VOTE_RESPONSE:
            return raft::MessageType::vote_response;
        case pb::MSG_PRE_VOTE:
            return raft::MessageType::pre_vote;
        case pb::MSG_PRE_VOTE_RESPONSE:
            return raft::MessageType::pre_vote_response;
        case pb::MSG_HEARTBEAT:
            return raft::MessageType::heartbeat;
        case pb::MSG_HEARTBEAT_RESPONSE:
            return raft::MessageType::heartbeat_response;
        case pb::MSG_INSTALL_SNAPSHOT:
            return raft::MessageType::install_snapshot;
        case pb::MSG_READ_INDEX:
            return raft::MessageType::read_index;
        case pb::MSG_READ_INDEX_RESPONSE:
            return raft::MessageType::read_index_response;
        case pb::MSG_TIMEOUT_NOW:
            return raft::MessageType::timeout_now;
        default:
            return Status::corruption(
                fmt::format("unknown raft message type {}", static_cast<int>(t)));
    }
}

// ---- structs

template <typename Repeated>
void put_ids(const std::set<NodeId>& ids, Repeated* out) {
    out->Reserve(static_cast<int>(ids.size()));
    for (NodeId id : ids) out->Add(id.value());
}

// A set encodes each id once, so a repeated id means the bytes were not
// written by encode_*: refuse rather than silently merge.
template <typename Repeated>
Result<std::set<NodeId>> get_ids(const Repeated& in, std::string_view what) {
    std::set<NodeId> ids;
    for (uint64_t v : in) {
        if (!ids.insert(NodeId(v)).second) {
            return Status::corruption(fmt::format("node {} twice in {}", v, what));
        }
    }
    return ids;
}

void to_pb(const raft::Configuration& c, pb::Configuration* out) {
    put_ids(c.voters, out->mutable_voters());
    put_ids(c.voters_outgoing, out->mutable_voters_outgoing());
    put_ids(c.learners, out->mutable_learners());
}

Result<raft::Configuration> from_pb(const pb::Configuration& c) {
    raft::Configuration out;
    CLEAVE_ASSIGN_OR_RETURN(out.voters, get_ids(c.voters(), "voters"));
    CLEAVE_ASSIGN_OR_RETURN(out.voters_outgoing, get_ids(c.voters_outgoing(), "voters_outgoing"));
    CLEAVE_ASSIGN_OR_RETURN(out.learners, get_ids(c.learners(), "learners"));
    return out;
}

bool empty(const raft::Configuration& c) {
    return c.voters.empty() && c.voters_outgoing.empty() && c.learners.empty();
}

void to_pb(const raft::Entry& e, pb::Entry* out) {
    out->set_term(e.term.value());
    out->set_index(e.index.value());
    out->set_type(to_pb(e.type));
    out->set_data(e.data);
    // Most entries carry no configuration; leave the field absent for them.
    if (!empty(e.config)) to_pb(e.config, out->mutable_config());
}

Result<raft::Entry> from_pb(const pb::Entry& e) {
    raft::Entry out;
    out.term = Term(e.term());
    out.index = Index(e.index());
    CLEAVE_ASSIGN_OR_RETURN(out.type, from_pb(e.type()));
    out.data = e.data();
    CLEAVE_ASSIGN_OR_RETURN(out.config, from_pb(e.config()));
    return out;
}

void to_pb(const raft::SnapshotMeta& m, pb::SnapshotMeta* out) {
    out->set_index(m.index.value());
    out->set_term(m.term.value());
    to_pb(m.config, out->mutable_config());
}

Result<raft::SnapshotMeta> from_pb(const pb::SnapshotMeta& m) {
    raft::SnapshotMeta out;
    out.index = Index(m.index());
    out.term = Term(m.term());
    CLEAVE_ASSIGN_OR_RETURN(out.config, from_pb(m.config()));
    return out;
}

void to_pb(const raft::Message& m, pb::Message* out) {
    out->set_type(to_pb(m.type));
    out->set_group(m.group.value());
    out->set_from(m.from.value());
    out->set_to(m.to.value());
    out->set_term(m.term.value());
    out->set_log_index(m.log_index.value());
    out->set_log_term(m.log_term.value());
    out->set_commit(m.commit.value());
    out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
    for (const auto& e : m.entries) to_pb(e, out->add_entries());
    if (m.snapshot) to_pb(m.snapshot->meta, out->mutable_snapshot());
    out->set_reject(m.reject);
    out->set_reject_hint(m.reject_hint.value());
    out->set_reject_term(m.reject_term.value());
    out->set_context(m.context);
    out->set_force(m.force);
}

Result<raft::Message> from_pb(const pb::Message& m) {
    raft::Message out;
    CLEAVE_ASSIGN_OR_RETURN(out.type, from_pb(m.type()));
    out.group = GroupId(m.group());
    out.from = NodeId(m.from());
    out.to = NodeId(m.to());
    out.term = Term(m.term());
    out.log_index = Index(m.log_index());
    out.log_term = Term(m.log_term());
    out.commit = Index(m.commit());
    out.entries.reserve(static_cast<size_t>(m.entries_size()));
    for (const auto& e : m.entries()) {
        CLEAVE_ASSIGN_OR_RETURN(auto entry, from_pb(e));
        out.entries.push_back(std::move(entry));
    }
    if (m.has_snapshot()) {
        CLEAVE_ASSIGN_OR_RETURN(auto meta, from_pb(m.snapshot()));
        // Metadata only: the image itself never travels in a message.
        out.snapshot = std::make_shared<const raft::Snapshot>(raft::Snapshot{std::move(meta), {}});
    }
    out.reject = m.reject();
    out.reject_hint = Index(m.reject_hint());
    out.reject_term = Term(m.reject_term());
    out.context = m.context();
    out.force = m.force();
    return out;
}

// ---- bytes

template <typename Proto>
std::string serialize(const Proto& p) {
    std::string out;
    // Only fails for a message over 2 GiB, which no caller builds (entries
    // are bounded far below that by the proposal limits).
    const bool ok = p.SerializeToString(&out);
    CLEAVE_ASSERT(ok, "{} does not serialise ({} bytes)", p.GetTypeName(), p.ByteSizeLong());
    return out;
}

template <typename Proto>
Result<Proto> parse(std::string_view bytes) {
    Proto p;
    if (bytes.size() > static_cast<size_t>(INT_MAX)) {
        return Status::corruption(
            fmt::format("{} of {} bytes is too large to decode", p.GetTypeName(), bytes.size()));
    }
    if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return Status::corruption(
            fmt::format("unparsable {} ({} bytes)", p.GetTypeName(), bytes.size()));
    }
    return p;
}

}  // namespace

std::string encode_message(const raft::Message& m) {
    pb::Message p;
    to_pb(m, &p);
    return serialize(p);
}

Result<raft::Message> decode_message(std::string_view bytes) {
    CLEAVE_ASSIGN_OR_RETURN(auto p, parse<pb::Message>(bytes));
    return from_pb(p);
}

std::string encode_batch(const std::vector<raft::Message>& messages) {
    pb::MessageBatch p;
    p.mutable_messages()->Reserve(static_cast<int>(messages.size()));
    for (const auto& m : messages) to_pb(m, p.add_messages());
    return serialize(p);
}

Result<std::vector<raft::Message>> decode_batch(std::string_view bytes) {
    CLEAVE_ASSIGN_OR_RETURN(auto p, parse<pb::MessageBatch>(bytes));
    std::vector<raft::Message> out;
    out.reserve(static_cast<size_t>(p.messages_size()));
    for (const auto& m : p.messages()) {
        CLEAVE_ASSIGN_OR_RETURN(auto message, from_pb(m));
        out.push_back(std::move(message));
    }
    return out;
}

std::string encode_entry(const raft::Entry& e) {
    pb::Entry p;
    to_pb(e, &p);
    return serialize(p);
}

Result<raft::Entry> decode_entry(std::string_view bytes) {
    CLEAVE_ASSIGN_OR_RETURN(auto p, parse<pb::Entry>(bytes));
    return from_pb(p);
}

std::string encode_hard_state(const raft::HardState& h) {
    pb::HardState p;
    p.set_term(h.term.value());
    p.set_vote(h.vote.value());
    p.set_commit(h.commit.value());
    return serialize(p);
}

Result<raft::HardState> decode_hard_state(std::string_view bytes) {
    CLEAVE_ASSIGN_OR_RETURN(auto p, parse<pb::HardState>(bytes));
    return raft::HardState{Term(p.term()), NodeId(p.vote()), Index(p.commit())};
}

std::string encode_snapshot_meta(const raft::SnapshotMeta& m) {
    pb::SnapshotMeta p;
    to_pb(m, &p);
    return serialize(p);
}

Result<raft::SnapshotMeta> decode_snapshot_meta(std::string_view bytes) {
    CLEAVE_ASSIGN_OR_RETURN(auto p, parse<pb::SnapshotMeta>(bytes));
    return from_pb(p);
}

}  // namespace cleave::multiraft
