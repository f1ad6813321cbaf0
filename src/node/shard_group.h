#pragma once
// ShardGroup: a shard's state machine as a Raft group's GroupStateMachine —
// commands decoded from log entries and applied by shard::StateMachine; the
// answer for the proposer encoded as an ApplyResult (node.proto); snapshots
// as shard images (shard/snapshot_image.h).

#include <functional>
#include <memory>
#include <string>

#include "multiraft/group_state_machine.h"
#include "shard/state_machine.h"
#include "storage/engine.h"

namespace cleave::node {

class ShardGroup final : public multiraft::GroupStateMachine {
  public:
    // `split_host` (may be null: Split refused) makes the child of a Split.
    static Result<std::unique_ptr<ShardGroup>> open(storage::Engine& engine,
                                                    shard::SplitHost* split_host = nullptr);

    uint64_t applied_index() const override { return sm_.applied_index(); }
    Result<std::string> apply(uint64_t index, std::string_view command) override;
    Result<std::pair<uint64_t, std::string>> snapshot() override;
    Status install(uint64_t index, std::string_view image) override;
    // Called (on the apply thread) after each install: the new state may
    // reference chunks this node never received.
    void set_on_install(std::function<void()> f) { on_install_ = std::move(f); }

  private:
    ShardGroup(storage::Engine& engine, shard::SplitHost* split_host)
        : engine_(engine), sm_(engine, split_host) {}
    storage::Engine& engine_;
    shard::StateMachine sm_;
    std::function<void()> on_install_;
};

// ApplyResult bytes <-> the outcome a proposer sees.
std::string encode_outcome(const shard::ApplyOutcome& outcome);
Result<shard::ApplyOutcome> decode_outcome(std::string_view bytes);

}  // namespace cleave::node
