#include "raft/log.h"

#include <gtest/gtest.h>

namespace cleave::raft {
namespace {

Entry e(uint64_t index, uint64_t term, std::string data = "") {
    Entry x;
    x.index = Index{index};
    x.term = Term{term};
    x.data = std::move(data);
    return x;
}

std::vector<Entry> entries(std::initializer_list<std::pair<uint64_t, uint64_t>> it) {
    std::vector<Entry> out;
    for (auto [i, t] : it) out.push_back(e(i, t));
    return out;
}

TEST(RaftLog, EmptyLogStartsAtZero) {
    RaftLog log(nullptr, {});
    EXPECT_EQ(log.last_index(), Index{0});
    EXPECT_EQ(log.first_index(), Index{1});
    EXPECT_EQ(log.term_at(Index{0}), Term{0});
    EXPECT_FALSE(log.term_at(Index{1}).has_value());
}

TEST(RaftLog, MaybeAppendRejectsMismatchedPrevious) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}}));
    bool truncated = false;
    EXPECT_FALSE(log.maybe_append(Index{2}, Term{2}, Index{0}, entries({{3, 2}}), truncated));
    EXPECT_FALSE(log.maybe_append(Index{5}, Term{1}, Index{0}, entries({{6, 2}}), truncated));
    EXPECT_EQ(log.last_index(), Index{2});
}

TEST(RaftLog, ConflictTruncatesOnlyFromTheConflict) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}, {3, 1}, {4, 1}}));
    bool truncated = false;
    auto last = log.maybe_append(Index{1}, Term{1}, Index{2}, entries({{2, 1}, {3, 2}}), truncated);
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, Index{3});
    EXPECT_TRUE(truncated);
    EXPECT_EQ(log.last_index(), Index{3});
    EXPECT_EQ(log.term_at(Index{3}), Term{2});
    EXPECT_EQ(log.committed(), Index{2});
    EXPECT_EQ(log.stable(), Index{2});  // the rewritten suffix must be persisted again
}

TEST(RaftLog, ReorderedOldAppendDoesNotTruncate) {
    // 3.5: entries already present with the same term are kept; an old,
    // shorter append must not cut a longer matching log.
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}, {3, 1}}));
    bool truncated = false;
    auto last = log.maybe_append(Index{0}, Term{0}, Index{0}, entries({{1, 1}}), truncated);
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, Index{1});
    EXPECT_FALSE(truncated);
    EXPECT_EQ(log.last_index(), Index{3});
}

TEST(RaftLog, CommitNeverExceedsWhatIsKnownToMatch) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}, {3, 1}}));
    bool truncated = false;
    // Leader commit 10, but only entries up to 1 are known to match.
    ASSERT_TRUE(log.maybe_append(Index{0}, Term{0}, Index{10}, entries({{1, 1}}), truncated));
    EXPECT_EQ(log.committed(), Index{1});
}

TEST(RaftLog, UpToDateComparesLastTermThenLength) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 2}}));
    EXPECT_TRUE(log.is_up_to_date(Index{1}, Term{3}));
    EXPECT_TRUE(log.is_up_to_date(Index{2}, Term{2}));
    EXPECT_FALSE(log.is_up_to_date(Index{1}, Term{2}));
    EXPECT_FALSE(log.is_up_to_date(Index{9}, Term{1}));
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}, {3, 3}, {4, 3}, {5, 3}}));
    EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{2}), Index{2});
    EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{3}), Index{5});
    EXPECT_EQ(log.find_conflict_by_term(Index{9}, Term{0}), Index{0});
}

TEST(RaftLog, CompactKeepsTrailingEntriesAndTerms) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 2}}));
    log.commit_to(Index{5});
    log.applied_to(Index{5});
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = Index{4};
    snap->meta.term = Term{2};
    log.compact(snap, Index{3});
    EXPECT_EQ(log.first_index(), Index{3});
    EXPECT_EQ(log.term_at(Index{2}), Term{1});  // the offset's term is kept
    EXPECT_FALSE(log.term_at(Index{1}).has_value());
    EXPECT_EQ(log.snapshot()->meta.index, Index{4});
    EXPECT_EQ(log.at(Index{3}).term, Term{2});
}

TEST(RaftLog, PersistingEntriesAreNotHandedOutAgainNorCountedDurable) {
    RaftLog log(nullptr, {});
    bool truncated = false;
    ASSERT_TRUE(
        log.maybe_append(Index{0}, Term{0}, Index{2}, entries({{1, 1}, {2, 1}}), truncated));
    const uint64_t gen = log.generation();
    log.persisting_to(Index{2});
    EXPECT_TRUE(log.unstable_entries().empty());
    EXPECT_EQ(log.stable(), Index{0});
    // Committed, but not durable here: only the synchronous view applies it.
    EXPECT_EQ(log.next_committed().size(), 2u);
    EXPECT_TRUE(log.next_committed(true).empty());
    EXPECT_FALSE(log.has_next_committed(true));
    log.stable_to(Index{1}, Term{1}, gen);
    EXPECT_EQ(log.stable(), Index{1});
    ASSERT_EQ(log.next_committed(true).size(), 1u);
    EXPECT_EQ(log.next_committed(true)[0].index, Index{1});
}

TEST(RaftLog, AStaleDurableReportIsIgnoredAfterATruncation) {
    RaftLog log(nullptr, {});
    bool truncated = false;
    ASSERT_TRUE(
        log.maybe_append(Index{0}, Term{0}, Index{0}, entries({{1, 1}, {2, 1}}), truncated));
    const uint64_t first = log.generation();
    log.persisting_to(Index{2});  // write A: (1,1) (2,1)
    // A new leader overwrites index 2 while write A is on its way.
    ASSERT_TRUE(log.maybe_append(Index{1}, Term{1}, Index{0}, entries({{2, 3}}), truncated));
    EXPECT_TRUE(truncated);
    EXPECT_NE(log.generation(), first);
    EXPECT_EQ(log.persisting(), Index{1});
    ASSERT_EQ(log.unstable_entries().size(), 1u);  // write B: (2,3)
    log.persisting_to(Index{2});
    // And a later one brings (2,1) back (write C) before A is reported.
    ASSERT_TRUE(log.maybe_append(Index{1}, Term{1}, Index{0}, entries({{2, 1}}), truncated));
    EXPECT_TRUE(truncated);
    const uint64_t third = log.generation();
    log.persisting_to(Index{2});
    // A's report matches the log by index and term, yet B (which truncated
    // it on disk) may be durable while C is not: it must not count.
    log.stable_to(Index{2}, Term{1}, first);
    EXPECT_EQ(log.stable(), Index{0});
    log.stable_to(Index{2}, Term{1}, third);
    EXPECT_EQ(log.stable(), Index{2});
}

TEST(RaftLog, RestoreReplacesEverything) {
    RaftLog log(nullptr, entries({{1, 1}, {2, 1}}));
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = Index{10};
    snap->meta.term = Term{4};
    log.restore(snap);
    EXPECT_EQ(log.last_index(), Index{10});
    EXPECT_EQ(log.last_term(), Term{4});
    EXPECT_EQ(log.committed(), Index{10});
    EXPECT_TRUE(log.unstable_entries().empty());
    EXPECT_TRUE(log.next_committed().empty());
}

TEST(RaftLog, RestartDropsEntriesCoveredBySnapshot) {
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = Index{2};
    snap->meta.term = Term{1};
    RaftLog log(snap, entries({{1, 1}, {2, 1}, {3, 1}}));
    EXPECT_EQ(log.first_index(), Index{3});
    EXPECT_EQ(log.last_index(), Index{3});
    EXPECT_EQ(log.stable(), Index{3});
    EXPECT_EQ(log.applied(), Index{2});
}

TEST(RaftLog, ConfigAtFindsTheLatestConfigurationEntry) {
    auto snap = std::make_shared<Snapshot>();
    snap->meta.config.voters = {NodeId{1}};
    Entry c = e(2, 1);
    c.type = EntryType::configuration;
    c.config.voters = {NodeId{1}, NodeId{2}};
    std::vector<Entry> es{e(1, 1), c, e(3, 1)};
    RaftLog log(snap, es);
    EXPECT_EQ(log.config_at(Index{3}).first.voters.size(), 2u);
    EXPECT_EQ(log.config_at(Index{3}).second, Index{2});
    EXPECT_EQ(log.config_at(Index{1}).first.voters.size(), 1u);
}

}  // namespace
}  // namespace cleave::raft
