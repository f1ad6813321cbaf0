#pragma once
// RoutedEngine: one read-only Engine over the engines of several shards, so
// the readers (reads.h) list and look up across shards without knowing there
// are several.
//
// A key of a keyed family ('o', 'r', 'u', 'p': family byte ‖ pk ‖ …) is read
// from the shard whose range [start, end) holds its pk; a range scan inside
// one family is cut at the shards' boundaries and walked shard after shard,
// which keeps key order because ranges are disjoint and ordered. Any other
// key (the bucket mirror 'b', which every data shard holds) is read from the
// first shard.
//
// Stale routes are caught, never served: every read first checks, in the
// same engine snapshot it reads from, that the shard's own range record
// (keys::state("range"), written by its state machine) still covers the
// key or segment. When a split moved the range away the read fails with
// Errc::stale_epoch and the caller re-reads the routing table and retries.
//
// Threading: like the engines under it; the table is fixed at construction.

#include <memory>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace cleave::shard {

struct RoutedShard {
    uint64_t id = 0;
    std::string start;  // pk range [start, end); "" = unbounded on that side
    std::string end;
    storage::Engine* engine = nullptr;
    // The engine checks ownership itself, in the snapshot it reads from (a
    // gateway's view of a remote replica): no separate check here, which
    // would cost a round trip and not be atomic with the read.
    bool checks_owner = false;
};

class RoutedEngine final : public storage::Engine {
  public:
    // `shards` sorted by start, disjoint, together covering every pk.
    explicit RoutedEngine(std::vector<RoutedShard> shards);

    Result<std::optional<std::string>> get(std::string_view key,
                                           const storage::Snapshot* snapshot = nullptr) override;
    Status write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override;
    std::unique_ptr<storage::Iterator> iterate(const storage::IterOptions& options) override;
    // One snapshot per shard engine, taken one after another: each shard's
    // reads are consistent, reads across shards are not one instant.
    std::unique_ptr<storage::Snapshot> snapshot() override;
    Status sync() override;
    Status checkpoint(const std::string& dir) override;
    Result<uint64_t> approximate_size(std::string_view begin, std::string_view end) override;
    std::string_view name() const override { return "routed"; }

    const std::vector<RoutedShard>& shards() const { return shards_; }
    // The index of the shard that owns `pk`.
    size_t owner(std::string_view pk) const;
    // The index of the shard a whole engine key is read from.
    size_t owner_of_key(std::string_view key) const;

  private:
    std::vector<RoutedShard> shards_;
};

// Whether an engine key belongs to a family that is cut by pk.
bool is_keyed_family(char family);

// Ok when the range record of `engine` (as of `snapshot`) covers the pks
// [lo, hi) ("" hi = unbounded), else stale_epoch naming the shard. An engine
// without a range record owns everything.
Status check_owns(storage::Engine& engine, const storage::Snapshot* snapshot, std::string_view lo,
                  std::string_view hi, uint64_t shard);

}  // namespace cleave::shard
