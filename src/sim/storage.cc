#include "sim/storage.h"

#include "common/assert.h"

namespace cleave::sim {

void SimStorage::write(const raft::Ready& ready) {
    if (ready.snapshot) pending_.emplace_back(ready.snapshot);
    if (!ready.entries.empty()) pending_.emplace_back(EntriesRecord{ready.entries});
    if (ready.hard_state) pending_.emplace_back(*ready.hard_state);
}

void SimStorage::sync() {
    for (auto& r : pending_) apply(std::move(r));
    pending_.clear();
}

void SimStorage::crash(Random& rng) {
    const size_t keep = rng.uniform(pending_.size() + 1);
    for (size_t i = 0; i < keep; ++i) {
        if (i + 1 == keep && std::holds_alternative<EntriesRecord>(pending_[i]) &&
            rng.chance(1, 2)) {
            // Torn: only a prefix of the last record's entries survived.
            auto& entries = std::get<EntriesRecord>(pending_[i]).entries;
            entries.resize(rng.uniform(entries.size() + 1));
        }
        apply(std::move(pending_[i]));
    }
    pending_.clear();
}

void SimStorage::apply(Record record) {
    if (auto* snap = std::get_if<raft::SnapshotPtr>(&record)) {
        snapshot_ = *snap;
        entries_.clear();  // an installed snapshot replaces the whole log
        return;
    }
    if (auto* hs = std::get_if<raft::HardState>(&record)) {
        hard_state_ = *hs;
        return;
    }
    auto& entries = std::get<EntriesRecord>(record).entries;
    if (entries.empty()) return;
    const Index first = entries.front().index;
    // Truncate the stored log where the new entries begin (Ready contract).
    while (!entries_.empty() && entries_.back().index >= first) entries_.pop_back();
    const Index snap_index = snapshot_ ? snapshot_->meta.index : Index{};
    CLEAVE_ASSERT(
        first.value() == (entries_.empty() ? snap_index : entries_.back().index).value() + 1,
        "storage: entries start at {} after {} (snapshot {})", first,
        entries_.empty() ? snap_index : entries_.back().index, snap_index);
    for (auto& e : entries) entries_.push_back(std::move(e));
}

void SimStorage::compact(const raft::SnapshotPtr& snapshot) {
    CLEAVE_ASSERT(pending_.empty(), "storage: compact with unsynced records");
    snapshot_ = snapshot;
    std::erase_if(entries_, [&](const raft::Entry& e) { return e.index <= snapshot->meta.index; });
}

raft::PersistentState SimStorage::load() const {
    raft::PersistentState s;
    s.hard_state = hard_state_;
    s.snapshot = snapshot_;
    s.entries = entries_;
    return s;
}

}  // namespace cleave::sim
