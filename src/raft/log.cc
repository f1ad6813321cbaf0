#include "raft/log.h"

#include <algorithm>

#include "common/assert.h"

namespace cleave::raft {

RaftLog::RaftLog(SnapshotPtr snapshot, std::vector<Entry> entries) {
    if (!snapshot) snapshot = std::make_shared<const Snapshot>();
    snapshot_ = std::move(snapshot);
    offset_ = snapshot_->meta.index;
    offset_term_ = snapshot_->meta.term;
    // Entries the snapshot already covers are dropped: they are committed and
    // applied, and keeping them would need their predecessor's term.
    for (auto& e : entries) {
        if (e.index <= offset_) continue;
        CLEAVE_ASSERT(e.index == last_index().next(), "non-contiguous log at {} after {}", e.index,
                      last_index());
        entries_.push_back(std::move(e));
    }
    committed_ = applied_ = offset_;
    stable_ = persisting_ = last_index();
}

Term RaftLog::last_term() const { return entries_.empty() ? offset_term_ : entries_.back().term; }

std::optional<Term> RaftLog::term_at(Index i) const {
    if (i == offset_) return offset_term_;
    if (i < offset_ || i > last_index()) return std::nullopt;
    return entries_[i.value() - offset_.value() - 1].term;
}

bool RaftLog::matches(Index i, Term t) const {
    auto term = term_at(i);
    return term && *term == t;
}

const Entry& RaftLog::at(Index i) const {
    CLEAVE_ASSERT(i > offset_ && i <= last_index(), "entry {} outside ({}, {}]", i, offset_,
                  last_index());
    return entries_[i.value() - offset_.value() - 1];
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, size_t max_count) const {
    std::vector<Entry> out;
    for (Index i = lo; i <= hi && out.size() < max_count; i = i.next()) out.push_back(at(i));
    return out;
}

bool RaftLog::is_up_to_date(Index index, Term term) const {
    // 3.6.1: compare the terms of the last entries; if equal, the longer log.
    return term > last_term() || (term == last_term() && index >= last_index());
}

void RaftLog::append(std::vector<Entry> entries) {
    for (auto& e : entries) {
        CLEAVE_ASSERT(e.index == last_index().next(), "append {} after {}", e.index, last_index());
        entries_.push_back(std::move(e));
    }
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term, Index leader_commit,
                                           std::vector<Entry> entries, bool& truncated) {
    truncated = false;
    if (!matches(prev_index, prev_term)) return std::nullopt;
    const Index last_new{prev_index.value() + entries.size()};
    // 3.5: "If an existing entry conflicts with a new one (same index but
    // different terms), delete the existing entry and all that follow it."
    // Entries already present with the same term are identical (Log Matching)
    // and must NOT be truncated: the message may be an old, reordered one.
    size_t k = 0;
    for (; k < entries.size(); ++k) {
        const Entry& e = entries[k];
        if (e.index > last_index()) break;
        if (!matches(e.index, e.term)) {
            CLEAVE_ASSERT(e.index > committed_, "conflict at committed index {} (committed {})",
                          e.index, committed_);
            entries_.resize(e.index.value() - offset_.value() - 1);
            stable_ = std::min(stable_, e.index.prev());
            persisting_ = std::min(persisting_, e.index.prev());
            ++generation_;
            truncated = true;
            break;
        }
    }
    for (; k < entries.size(); ++k) entries_.push_back(std::move(entries[k]));
    // Rule 5: commit up to the last entry known to match the leader.
    commit_to(std::min(leader_commit, last_new));
    return last_new;
}

Index RaftLog::find_conflict_by_term(Index index, Term term) const {
    // Below the retained log we know nothing better than the offset itself.
    Index i = std::min(index, last_index());
    while (i > offset_) {
        if (at(i).term <= term) return i;
        i = i.prev();
    }
    return offset_;
}

void RaftLog::commit_to(Index i) {
    if (i <= committed_) return;  // commit never moves backwards
    CLEAVE_ASSERT(i <= last_index(), "commit {} beyond last index {}", i, last_index());
    committed_ = i;
}

void RaftLog::applied_to(Index i) {
    CLEAVE_ASSERT(i <= committed_ && i >= applied_, "applied {} outside [{}, {}]", i, applied_,
                  committed_);
    applied_ = i;
}

void RaftLog::stable_to(Index i, Term t, uint64_t generation) {
    if (generation == generation_ && matches(i, t) && i > stable_) {
        stable_ = i;
        persisting_ = std::max(persisting_, stable_);
    }
}

void RaftLog::persisting_to(Index i) {
    CLEAVE_ASSERT(i <= last_index(), "persisting {} beyond last index {}", i, last_index());
    persisting_ = std::max(persisting_, i);
}

std::vector<Entry> RaftLog::unstable_entries() const {
    if (persisting_ >= last_index()) return {};
    return slice(std::max(persisting_.next(), first_index()), last_index(), entries_.size());
}

std::vector<Entry> RaftLog::next_committed(bool stable_only) const {
    const Index limit = apply_limit(stable_only);
    if (limit <= applied_) return {};
    return slice(std::max(applied_.next(), first_index()), limit, entries_.size());
}

void RaftLog::restore(SnapshotPtr snapshot) {
    CLEAVE_ASSERT(snapshot->meta.index > committed_, "restoring snapshot {} behind commit {}",
                  snapshot->meta.index, committed_);
    snapshot_ = std::move(snapshot);
    entries_.clear();
    offset_ = snapshot_->meta.index;
    offset_term_ = snapshot_->meta.term;
    committed_ = applied_ = stable_ = persisting_ = offset_;
    ++generation_;
}

void RaftLog::compact(SnapshotPtr snapshot, Index keep_from) {
    const Index idx = snapshot->meta.index;
    CLEAVE_ASSERT(idx <= applied_ && idx >= snapshot_->meta.index, "snapshot {} outside [{}, {}]",
                  idx, snapshot_->meta.index, applied_);
    snapshot_ = std::move(snapshot);
    keep_from = std::min(keep_from, idx.next());
    if (keep_from <= first_index()) return;
    const Term t = *term_at(keep_from.prev());
    entries_.erase(entries_.begin(),
                   entries_.begin() + (keep_from.value() - first_index().value()));
    offset_ = keep_from.prev();
    offset_term_ = t;
}

std::pair<Configuration, Index> RaftLog::config_at(Index i) const {
    for (Index k = std::min(i, last_index()); k > offset_; k = k.prev()) {
        const Entry& e = at(k);
        if (e.type == EntryType::configuration) return {e.config, k};
    }
    // No configuration entry in (offset, i]. Callers ask only for i at or
    // after the snapshot's index, so the snapshot's configuration is the one.
    return {snapshot_->meta.config, snapshot_->meta.index};
}

}  // namespace cleave::raft
