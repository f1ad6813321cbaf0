#pragma once
// LocalReplica: a shard on one node, without replication. It is the stand-in
// for a Raft group with one voter: proposals are logged (durably, with group
// commit) and then applied in log order by one apply loop; the proposer is
// answered only after its command is applied.
//
//   proposers ──push──▶ queue ──▶ apply loop: take all queued
//                                   1. log.append(all)   one fsync for the group
//                                   2. apply each in index order
//                                   3. answer each proposer
//
// Recovery (open): commands logged but not applied before a crash are
// applied again from the log, starting after the engine's applied index.
// The same recovery runs again after a transient engine failure
// (unavailable: e.g. the engine's Redis server went away): the failed group's
// proposers are answered unavailable (in doubt), and the loop re-reads the log
// and replays before each later group until it succeeds, so service resumes
// when the engine returns.
//
// Threading: propose() from any thread; it blocks until applied or failed.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "shard/command_log.h"
#include "shard/commands.pb.h"
#include "shard/replica.h"
#include "shard/state_machine.h"
#include "storage/engine.h"

namespace cleave::shard {

struct LocalReplicaOptions {
    size_t max_group_commands = 256;        // bound on one group commit
    uint64_t compact_every_entries = 4096;  // log entries kept before compaction
    // Where a Split puts the new shard (split_host.h); none = splits refused.
    SplitHost* split_host = nullptr;
};

class LocalReplica final : public Replica {
  public:
    static Result<std::unique_ptr<LocalReplica>> open(storage::Engine& engine,
                                                      LocalReplicaOptions options = {});
    ~LocalReplica() override;
    LocalReplica(const LocalReplica&) = delete;
    LocalReplica& operator=(const LocalReplica&) = delete;

    // Logs and applies `command`; returns the command's outcome, or an error
    // if it could not be logged/applied (then it may or may not have been).
    Result<ApplyOutcome> propose(Command command) override;
    // A lone replica's state is always current.
    Status read_barrier() override { return Status::ok(); }

    // Stops the apply loop; pending and later proposals fail with aborted.
    void stop();

    uint64_t applied_index() const;

  private:
    struct Pending {
        Command command;
        std::promise<Result<ApplyOutcome>> done;
    };

    LocalReplica(storage::Engine& engine, LocalReplicaOptions options,
                 std::unique_ptr<CommandLog> log);
    Status recover();
    // Re-opens the command log and recover()s: after a transient engine
    // failure, when what was logged and applied is uncertain.
    Status reload();
    void run();
    void fail_all(std::deque<Pending>& batch, const Status& s);

    storage::Engine& engine_;
    const LocalReplicaOptions options_;
    std::unique_ptr<CommandLog> log_;
    StateMachine state_machine_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Pending> queue_;               // guarded by mu_
    bool stopping_ = false;                   // guarded by mu_
    Status fatal_;                            // guarded by mu_: set when the loop died
    std::atomic<uint64_t> applied_index_{0};  // written by the apply loop only
    bool needs_recovery_ = false;  // apply loop only: a transient engine failure happened
    std::thread loop_;
};

}  // namespace cleave::shard
