#pragma once
// Replica: what the object service needs of a shard, however it is
// replicated. Two implementations: LocalReplica (one node, a command log) and
// the Raft-replicated group of a cluster node (src/node).
//
//   propose       the command is logged by the shard's log (a majority of
//                 its replicas for Raft), applied in log order, and its
//                 outcome returned — or an error, after which it may or may
//                 not have been applied (in doubt).
//   read_barrier  returns once this replica's local state reflects every
//                 write acknowledged before the call (linearizable reads:
//                 ReadIndex on a Raft replica, nothing on a lone one).
//
// Threading: both may be called from any thread; both block.

#include "common/status.h"
#include "shard/commands.pb.h"
#include "shard/state_machine.h"

namespace cleave::shard {

class Replica {
  public:
    virtual ~Replica() = default;
    virtual Result<ApplyOutcome> propose(Command command) = 0;
    virtual Status read_barrier() = 0;
};

}  // namespace cleave::shard
