#pragma once
// The in-memory Raft log of one replica: a snapshot, then the retained
// entries. Tracks three positions the host cares about:
//
//   [snapshot] ... offset | entries ............................... last
//                            applied <= committed,   stable = durable prefix
//                                                    stable <= persisting
//
// Entries after `persisting` are handed to the host to persist
// (Ready::entries). With synchronous persistence the two marks move together;
// with asynchronous persistence (RaftOptions::async_persist) `persisting`
// marks what the host is writing and `stable` what it reported written.
// The log keeps every retained entry in memory; the host keeps the durable copy.

#include <algorithm>
#include <optional>
#include <vector>

#include "common/strong_id.h"
#include "raft/config.h"
#include "raft/types.h"

namespace cleave::raft {

class RaftLog {
  public:
    // Restores from a persisted snapshot (may be null) and the entries after it.
    RaftLog(SnapshotPtr snapshot, std::vector<Entry> entries);
    RaftLog(const RaftLog&) = delete;
    RaftLog& operator=(const RaftLog&) = delete;

    // First index still held as an entry (offset + 1) and the last index.
    Index first_index() const { return offset_.next(); }
    Index last_index() const { return Index{offset_.value() + entries_.size()}; }
    Term last_term() const;
    // Term of entry i; offset_'s term is known too. Nullopt when compacted or
    // beyond the end.
    std::optional<Term> term_at(Index i) const;
    bool matches(Index i, Term t) const;
    // The entry at i; first_index() <= i <= last_index().
    const Entry& at(Index i) const;
    // Entries [lo, hi] capped at max_count; lo >= first_index().
    std::vector<Entry> slice(Index lo, Index hi, size_t max_count) const;

    Index committed() const { return committed_; }
    Index applied() const { return applied_; }
    Index stable() const { return stable_; }
    Index persisting() const { return persisting_; }
    const SnapshotPtr& snapshot() const { return snapshot_; }

    // Dissertation 3.6.1 / 5.4.1: is a log ending at (index, term) at least as
    // up to date as ours?
    bool is_up_to_date(Index index, Term term) const;

    // Leader path: appends entries that directly follow last_index().
    void append(std::vector<Entry> entries);
    // Follower path (3.5, AppendEntries receiver rules 2-5). Returns the last
    // index known to match the leader, or nullopt when (prev_index, prev_term)
    // does not match. Conflicting uncommitted entries are truncated.
    // `truncated` is set when an existing entry was overwritten.
    std::optional<Index> maybe_append(Index prev_index, Term prev_term, Index leader_commit,
                                      std::vector<Entry> entries, bool& truncated);
    // The largest index <= index whose term is <= term (fast backtracking, 3.5).
    Index find_conflict_by_term(Index index, Term term) const;

    void commit_to(Index i);
    void applied_to(Index i);
    // The host made entries up to (i, t) durable, as handed out while the
    // log was at `generation`. Ignored if the log moved on: a truncation or
    // a snapshot since then bumped the generation. The term check alone
    // would not do with writes in flight: a suffix can be truncated and the
    // same (index, term) appended again while the older write of it and the
    // truncation are both on their way to disk.
    void stable_to(Index i, Term t, uint64_t generation);
    // Bumped whenever entries are truncated or the log is replaced.
    uint64_t generation() const { return generation_; }
    // The host is writing entries up to i (asynchronous persistence): they
    // are not handed out again, nor counted as durable.
    void persisting_to(Index i);

    // Entries the host must persist: (persisting, last].
    std::vector<Entry> unstable_entries() const;
    // Entries to apply: (applied, committed], or with `stable_only` only
    // those also durable here (asynchronous persistence: a follower may learn
    // a commit index beyond what it has written).
    std::vector<Entry> next_committed(bool stable_only = false) const;
    bool has_next_committed(bool stable_only = false) const {
        return apply_limit(stable_only) > applied_;
    }

    // Replaces the whole log with a snapshot received from the leader (5.3).
    void restore(SnapshotPtr snapshot);
    // Records a snapshot the host took at snapshot->meta.index <= applied and
    // drops entries before keep_from (5.1).
    void compact(SnapshotPtr snapshot, Index keep_from);

    // The latest configuration entry at or before `i` (or the snapshot's).
    // Returns the configuration and the index that carried it.
    std::pair<Configuration, Index> config_at(Index i) const;

  private:
    Index apply_limit(bool stable_only) const {
        return stable_only ? std::min(committed_, stable_) : committed_;
    }

    SnapshotPtr snapshot_;
    Index offset_;      // index just before entries_[0]
    Term offset_term_;  // its term
    std::vector<Entry> entries_;
    Index committed_;
    Index applied_;
    Index stable_;
    Index persisting_;
    uint64_t generation_ = 0;
};

}  // namespace cleave::raft
