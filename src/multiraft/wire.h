#pragma once
// The first byte of every node-to-node frame body says what it carries, so
// one transport serves the Raft host and the node's own requests.

namespace cleave::multiraft::wire {

// One-way frames.
inline constexpr char kRaftBatch = 'R';  // raft messages for one destination node (raft_codec)
// Requests answered by the host.
inline constexpr char kSnapshotPiece = 'S';  // a piece of the group's current snapshot
// Requests answered by the node (src/node).
inline constexpr char kPropose = 'P';           // forward a proposal to the leader
inline constexpr char kReadIndex = 'I';         // reserved
inline constexpr char kChunkPut = 'C';          // store a chunk (replication of a write)
inline constexpr char kChunkGet = 'G';          // fetch a chunk this node lacks
inline constexpr char kNodeStatus = 'T';        // the node's view of its groups
inline constexpr char kKvRead = 'K';            // a linearizable read on a replica, for a gateway
inline constexpr char kHostGroup = 'H';         // become a new replica of a group (placement)
inline constexpr char kChangeMembership = 'M';  // on a group's leader: add/promote/remove
inline constexpr char kRepairChunks = 'F';      // fetch every chunk this node's shard lacks
inline constexpr char kSplitKey = 'Y';          // the key that halves a data shard here
inline constexpr char kLeftGroup = 'L';         // placement removed this node's replica of a group

}  // namespace cleave::multiraft::wire
