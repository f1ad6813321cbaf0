#pragma once
// How a node's object service reaches the data shard: through its own
// replica (local engine, RaftReplica) while it is a member of the shard's
// group, through the remote views (RemoteEngine, RemoteReplica) otherwise.
//
// The switch goes one way only, local -> remote: when the placement driver
// removes this node's replica (drain, rebalance), the node keeps serving as
// a gateway. Why never back: a local read is only linearizable after the
// local read barrier, and a barrier taken on one path must not vouch for a
// read on the other. Remote reads carry their own barrier, so a barrier
// taken locally followed by a read taken remotely is still safe; the
// reverse would not be. A node that gains a replica while running serves
// it locally from its next start.
//
// Threading: any thread; `local()` may turn false at any moment.

#include <atomic>
#include <memory>

#include "shard/replica.h"
#include "storage/engine.h"

namespace cleave::node {

class ServingPath {
  public:
    ServingPath(bool local, storage::Engine& local_engine, shard::Replica& local_replica,
                storage::Engine& remote_engine, shard::Replica& remote_replica)
        : local_(local),
          local_engine_(local_engine),
          local_replica_(local_replica),
          remote_engine_(remote_engine),
          remote_replica_(remote_replica) {}

    bool local() const { return local_.load(std::memory_order_acquire); }
    void go_remote() { local_.store(false, std::memory_order_release); }

    storage::Engine& engine() { return engine_; }
    shard::Replica& replica() { return replica_; }

  private:
    // The engine the service reads: every call goes to the current path. A
    // snapshot remembers the path that made it and is dropped (latest state)
    // if used on the other one.
    class Engine final : public storage::Engine {
      public:
        explicit Engine(ServingPath& p) : p_(p) {}
        Result<std::optional<std::string>> get(std::string_view key,
                                               const storage::Snapshot* snapshot) override;
        Status write(const storage::WriteBatch& batch,
                     const storage::WriteOptions& options) override;
        std::unique_ptr<storage::Iterator> iterate(const storage::IterOptions& options) override;
        std::unique_ptr<storage::Snapshot> snapshot() override;
        Status sync() override { return current().sync(); }
        Status checkpoint(const std::string& dir) override { return current().checkpoint(dir); }
        Result<uint64_t> approximate_size(std::string_view b, std::string_view e) override {
            return current().approximate_size(b, e);
        }
        std::string_view name() const override { return "serving-path"; }

      private:
        storage::Engine& current() { return p_.local() ? p_.local_engine_ : p_.remote_engine_; }
        const storage::Snapshot* inner(const storage::Snapshot* s, bool local) const;
        ServingPath& p_;
    };
    class Replica final : public shard::Replica {
      public:
        explicit Replica(ServingPath& p) : p_(p) {}
        Result<shard::ApplyOutcome> propose(shard::Command command) override {
            return p_.local() ? p_.local_replica_.propose(std::move(command))
                              : p_.remote_replica_.propose(std::move(command));
        }
        Status read_barrier() override {
            return p_.local() ? p_.local_replica_.read_barrier()
                              : p_.remote_replica_.read_barrier();
        }

      private:
        ServingPath& p_;
    };

    std::atomic<bool> local_;
    storage::Engine& local_engine_;
    shard::Replica& local_replica_;
    storage::Engine& remote_engine_;
    shard::Replica& remote_replica_;
    Engine engine_{*this};
    Replica replica_{*this};
};

}  // namespace cleave::node
