#pragma once
// What a Raft group's replica applies committed commands to. The host calls
// it from the group's apply thread only, in log order.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace cleave::multiraft {

class GroupStateMachine {
  public:
    virtual ~GroupStateMachine() = default;
    // The last index applied (possibly not yet durable: after a crash the
    // host re-applies committed entries after the durable one).
    virtual uint64_t applied_index() const = 0;
    // Applies the entry at `index` (applied_index() + 1). Empty `command`:
    // a no-op (a leader's blank entry, a configuration change) that only
    // advances the index. Returns the answer for the proposer. An error
    // means the replica cannot go on (its engine failed).
    virtual Result<std::string> apply(uint64_t index, std::string_view command) = 0;
    // A durable image of the state at applied_index(): the applied state is
    // made durable first, so the log before it may be dropped.
    virtual Result<std::pair<uint64_t, std::string>> snapshot() = 0;
    // Replaces the whole state with `image`, taken at `index`.
    virtual Status install(uint64_t index, std::string_view image) = 0;
};

}  // namespace cleave::multiraft
