#pragma once
// RemoteEngine: a read-only storage::Engine over the replicas of a shard this
// node does not hold, for a node acting as the shard's gateway. The object
// service reads through it exactly as it reads a local replica's engine.
//
//   get(key)            one wire::kKvRead to one replica
//   iterate([lo, hi))   pages of pairs, fetched as the cursor moves
//
// Every request passes a ReadIndex barrier on the replica that answers it,
// so each read is linearizable on its own (a listing of many pages is not
// one atomic view — S3 listings never are). snapshot() is therefore a token
// that changes nothing.
//
// Spreading (DESIGN.md §5): each request goes to the replica with the fewest
// requests outstanding from this node (ties taken in turn), and on failure
// to the next one, so followers carry read load and a dead replica costs one
// failed attempt, not an error.
//
// Threading: any thread; an Iterator is used by one thread at a time.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/strong_id.h"
#include "node/node.pb.h"
#include "node/remote.h"
#include "storage/engine.h"

namespace cleave::node {

// Least-outstanding-requests choice among a shard's replicas.
class ReadSpreader {
  public:
    // The replica to ask next among `replicas`, skipping `tried`; 0 if none.
    uint64_t pick(const std::vector<uint64_t>& replicas, const std::vector<uint64_t>& tried);
    void begin(uint64_t node);
    void end(uint64_t node);

  private:
    std::mutex mu_;
    std::map<uint64_t, int> outstanding_;  // guarded by mu_
    uint64_t tie_ = 0;                     // guarded by mu_; rotates ties
};

class RemoteEngine final : public storage::Engine {
  public:
    // `replicas` names the shard's replicas now (membership changes).
    RemoteEngine(Remote& remote, ReadSpreader& spreader, GroupId group,
                 std::function<std::vector<uint64_t>()> replicas);

    Result<std::optional<std::string>> get(std::string_view key,
                                           const storage::Snapshot* snapshot = nullptr) override;
    Status write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override;
    std::unique_ptr<storage::Iterator> iterate(const storage::IterOptions& options) override;
    std::unique_ptr<storage::Snapshot> snapshot() override;
    Status sync() override { return Status::ok(); }
    Status checkpoint(const std::string& dir) override;
    Result<uint64_t> approximate_size(std::string_view, std::string_view) override { return 0; }
    std::string_view name() const override { return "remote"; }

    // One request, answered by some replica (used by the iterator too).
    Result<KvResult> read(const KvRead& request);

  private:
    Remote& remote_;
    ReadSpreader& spreader_;
    const GroupId group_;
    const std::function<std::vector<uint64_t>()> replicas_;
};

// The replica's side of a kKvRead: `engine` must be read only after the
// caller's read barrier.
Result<std::string> serve_kv_read(storage::Engine& engine, const KvRead& request);
std::string kv_read_request(const KvRead& request);
Result<KvRead> parse_kv_read(std::string_view body);

}  // namespace cleave::node
