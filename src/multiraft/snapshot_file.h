#pragma once
// The latest snapshot of one Raft group on this node, in one file:
//
//   DIR/snap-<group>.bin := magic "CVSNAP1\n" | u32 meta length | meta (raft_codec)
//                           | u64 data length | data | u32 crc32c(all before)
//
// Written to a temporary file, fsynced, renamed over the old one and the
// directory fsynced: a crash leaves the old snapshot or the new one, never a
// mix. A damaged file is corruption (the node refuses to start), never
// silently treated as "no snapshot".

#include <string>

#include "common/status.h"
#include "common/strong_id.h"
#include "raft/types.h"

namespace cleave::multiraft {

std::string snapshot_path(const std::string& dir, GroupId group);
Status write_snapshot_file(const std::string& dir, GroupId group, const raft::Snapshot& snap);
// Null when the group has no snapshot file.
Result<raft::SnapshotPtr> read_snapshot_file(const std::string& dir, GroupId group);

}  // namespace cleave::multiraft
