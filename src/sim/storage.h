#pragma once
// In-memory persistence for one simulated node that models power loss:
// writes go to an unsynced tail of records; sync() makes them durable; a
// crash keeps only a random prefix of the unsynced records, the last one
// possibly torn (a prefix of its entries), as a WAL recovered after a torn
// write would. Asserts its own invariants (contiguous log, snapshot first).

#include <variant>
#include <vector>

#include "common/random.h"
#include "raft/ready.h"
#include "raft/types.h"

namespace cleave::sim {

class SimStorage {
  public:
    // Records what a Ready asks to persist (snapshot, entries, hard state, in
    // that order), unsynced.
    void write(const raft::Ready& ready);
    // Makes every written record durable.
    void sync();
    // Power loss: keeps a random prefix of the unsynced records.
    void crash(Random& rng);
    // A snapshot the host took (already synced: losing it would be harmless,
    // keeping it simple is not).
    void compact(const raft::SnapshotPtr& snapshot);
    // What a restarting node loads.
    raft::PersistentState load() const;
    size_t unsynced() const { return pending_.size(); }

  private:
    struct EntriesRecord {
        std::vector<raft::Entry> entries;
    };
    using Record = std::variant<raft::SnapshotPtr, EntriesRecord, raft::HardState>;
    void apply(Record record);

    raft::HardState hard_state_;
    raft::SnapshotPtr snapshot_;
    std::vector<raft::Entry> entries_;  // contiguous, after snapshot_->meta.index
    std::vector<Record> pending_;
};

}  // namespace cleave::sim
