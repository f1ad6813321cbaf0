#pragma once
// Bytes for the Raft core's plain structs (src/raft): the network carries
// messages, the write-ahead log carries entries, hard states and snapshot
// metadata. The schema is raft.proto; its generated types stay inside
// raft_codec.cc.
//
// Every field round-trips: decode(encode(x)) == x. The one exception is a
// message's snapshot, whose state machine bytes (Snapshot::data) are never
// encoded: they can be far larger than a message, so the host streams them
// separately and a decoded message's snapshot has empty data.
//
// Decoding never trusts its input (it comes from the network or the disk):
// bytes that do not parse, or an enum value this build does not know
// (including a missing one), give Errc::corruption, never a crash.
//
// Threading: pure functions, any thread.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "raft/messages.h"
#include "raft/types.h"

namespace cleave::multiraft {

// One message. A snapshot is encoded as metadata only (see above).
std::string encode_message(const raft::Message& m);
Result<raft::Message> decode_message(std::string_view bytes);

// Many messages in one frame: the host batches everything one node sends to
// another in one round, whatever their groups, so N groups' heartbeats to a
// peer cost one frame.
//
//   groups 1..N on node A          node A -> node B, one frame
//   [g1 msg][g2 msg]...[gN msg] -> MessageBatch{ g1 msg, g2 msg, ..., gN msg }
//
// Order is kept. An empty batch is valid.
std::string encode_batch(const std::vector<raft::Message>& messages);
Result<std::vector<raft::Message>> decode_batch(std::string_view bytes);

std::string encode_entry(const raft::Entry& e);
Result<raft::Entry> decode_entry(std::string_view bytes);

std::string encode_hard_state(const raft::HardState& h);
Result<raft::HardState> decode_hard_state(std::string_view bytes);

std::string encode_snapshot_meta(const raft::SnapshotMeta& m);
Result<raft::SnapshotMeta> decode_snapshot_meta(std::string_view bytes);

}  // namespace cleave::multiraft
