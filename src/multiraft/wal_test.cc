#include "multiraft/wal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/hash.h"
#include "common/random.h"

namespace cleave::multiraft {
namespace {

namespace fs = std::filesystem;

class WalTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("cleave-wal-" + to_hex(os_random_bytes(6)));
    }
    void TearDown() override { fs::remove_all(dir_); }

    Result<std::unique_ptr<Wal>> open(std::vector<std::pair<uint64_t, WalRecord>>* seen,
                                      uint64_t segment_bytes = 1 << 20) {
        return Wal::open(dir_.string(), WalOptions{.segment_bytes = segment_bytes},
                         [&](uint64_t lsn, const WalRecord& r) { seen->emplace_back(lsn, r); });
    }
    static WalRecord rec(uint64_t group, std::string payload) {
        return WalRecord{1, group, std::move(payload)};
    }

    fs::path dir_;
};

TEST_F(WalTest, AppendsSurviveReopenInOrderAcrossSegments) {
    std::vector<std::pair<uint64_t, WalRecord>> seen;
    {
        auto wal = open(&seen, 256);
        ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
        for (int batch = 0; batch < 20; ++batch) {
            std::vector<WalRecord> recs;
            for (int i = 0; i < 3; ++i)
                recs.push_back(rec(batch % 4, fmt::format("b{}r{}", batch, i)));
            auto lsn = (*wal)->append(recs);
            ASSERT_TRUE(lsn.is_ok());
            EXPECT_EQ(*lsn, static_cast<uint64_t>(batch * 3 + 3));
        }
        EXPECT_EQ((*wal)->syncs(), 20u);  // one fsync per group commit
        EXPECT_GT((*wal)->segment_count(), 2u);
    }
    ASSERT_TRUE(seen.empty());
    auto wal = open(&seen, 256);
    ASSERT_TRUE(wal.is_ok());
    ASSERT_EQ(seen.size(), 60u);
    for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i].first, i + 1);
        EXPECT_EQ(seen[i].second.payload, fmt::format("b{}r{}", i / 3, i % 3));
        EXPECT_EQ(seen[i].second.group, (i / 3) % 4);
    }
    // Appending continues the LSN sequence.
    auto lsn = (*wal)->append({rec(9, "next")});
    ASSERT_TRUE(lsn.is_ok());
    EXPECT_EQ(*lsn, 61u);
}

TEST_F(WalTest, UnsyncedRecordsAreSyncedByTheNextSyncOrSegmentSwitch) {
    // Records appended with sync = false cost no fdatasync of their own; the
    // next synced append covers them, and so does closing their segment, so
    // that no synced record on disk ever follows a lost one.
    std::vector<std::pair<uint64_t, WalRecord>> seen;
    {
        auto wal = open(&seen, 64);
        ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
        auto& w = **wal;
        ASSERT_TRUE(w.append({rec(1, "commit-only")}, false).is_ok());
        EXPECT_EQ(w.syncs(), 0u);
        ASSERT_TRUE(w.append({rec(1, "entries")}).is_ok());
        EXPECT_EQ(w.syncs(), 1u);
        // Fill the segment with an unsynced record: the next append opens a
        // new segment, syncing the old one's tail first, then syncs its own.
        ASSERT_TRUE(w.append({rec(2, std::string(80, 'c'))}, false).is_ok());
        EXPECT_EQ(w.syncs(), 1u);
        const size_t segments = w.segment_count();
        ASSERT_TRUE(w.append({rec(2, "after the switch")}).is_ok());
        EXPECT_EQ(w.segment_count(), segments + 1);
        EXPECT_EQ(w.syncs(), 3u);
        // A switch after a synced tail costs nothing more.
        ASSERT_TRUE(w.append({rec(3, std::string(80, 'd'))}).is_ok());
        EXPECT_EQ(w.syncs(), 4u);
        ASSERT_TRUE(w.append({rec(3, "next")}).is_ok());
        EXPECT_EQ(w.syncs(), 5u);
    }
    auto wal = open(&seen, 64);
    ASSERT_TRUE(wal.is_ok());
    ASSERT_EQ(seen.size(), 6u);
    EXPECT_EQ(seen[0].second.payload, "commit-only");
    EXPECT_EQ(seen[3].second.payload, "after the switch");
}

// A crash can cut the file anywhere inside the last append: recovery keeps
// exactly the whole records before the cut.
TEST_F(WalTest, TornTailIsCutAtEveryPossibleOffset) {
    std::vector<std::pair<uint64_t, WalRecord>> seen;
    std::vector<uint64_t> ends;  // file size after each record
    {
        auto wal = open(&seen);
        ASSERT_TRUE(wal.is_ok());
        for (int i = 0; i < 5; ++i) {
            ASSERT_TRUE((*wal)->append({rec(1, std::string(10 + i, 'a' + i))}).is_ok());
            ends.push_back(fs::file_size(fs::directory_iterator(dir_)->path()));
        }
    }
    fs::path seg = fs::directory_iterator(dir_)->path();
    std::string full;
    {
        std::ifstream in(seg, std::ios::binary);
        full.assign(std::istreambuf_iterator<char>(in), {});
    }
    for (uint64_t cut = 0; cut <= full.size(); ++cut) {
        {
            std::ofstream out(seg, std::ios::binary | std::ios::trunc);
            out.write(full.data(), static_cast<std::streamsize>(cut));
        }
        seen.clear();
        auto wal = open(&seen);
        ASSERT_TRUE(wal.is_ok()) << "cut " << cut << ": " << wal.status().to_string();
        size_t whole = static_cast<size_t>(
            std::count_if(ends.begin(), ends.end(), [&](uint64_t e) { return e <= cut; }));
        ASSERT_EQ(seen.size(), whole) << "cut " << cut;
        EXPECT_EQ((*wal)->last_lsn(), whole);
        // The file was truncated to the last whole record and accepts appends.
        ASSERT_TRUE((*wal)->append({rec(2, "after")}).is_ok());
        wal->reset();
        seen.clear();
        ASSERT_TRUE(open(&seen).is_ok());
        ASSERT_EQ(seen.size(), whole + 1);
        EXPECT_EQ(seen.back().second.payload, "after");
    }
}

TEST_F(WalTest, GarbageTailAndMidLogCorruption) {
    std::vector<std::pair<uint64_t, WalRecord>> seen;
    {
        auto wal = open(&seen, 64);
        ASSERT_TRUE(wal.is_ok());
        for (int i = 0; i < 10; ++i)
            ASSERT_TRUE((*wal)->append({rec(1, std::string(40, 'x'))}).is_ok());
    }
    std::vector<fs::path> segs;
    for (auto& e : fs::directory_iterator(dir_)) segs.push_back(e.path());
    std::sort(segs.begin(), segs.end());
    ASSERT_GE(segs.size(), 3u);
    // Random bytes appended to the last segment: a torn tail, cut.
    {
        std::ofstream out(segs.back(), std::ios::binary | std::ios::app);
        out << "\x00\x00\x00\x30garbage!";
    }
    ASSERT_TRUE(open(&seen, 64).is_ok());
    EXPECT_EQ(seen.size(), 10u);
    // A flipped byte in an earlier segment: refused, naming the file.
    {
        std::fstream f(segs.front(), std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(12);
        f.put('#');
    }
    seen.clear();
    auto wal = open(&seen, 64);
    ASSERT_FALSE(wal.is_ok());
    EXPECT_EQ(wal.status().code(), Errc::corruption);
    EXPECT_NE(wal.status().message().find(segs.front().filename().string()), std::string::npos);
}

TEST_F(WalTest, ReleaseDeletesOnlyWholeOldSegments) {
    std::vector<std::pair<uint64_t, WalRecord>> seen;
    auto wal = open(&seen, 100);
    ASSERT_TRUE(wal.is_ok());
    for (int i = 0; i < 12; ++i)
        ASSERT_TRUE((*wal)->append({rec(1, std::string(60, 'y'))}).is_ok());
    size_t before = (*wal)->segment_count();
    ASSERT_GT(before, 3u);
    ASSERT_TRUE((*wal)->release_before(1).is_ok());
    EXPECT_EQ((*wal)->segment_count(), before);
    ASSERT_TRUE((*wal)->release_before(7).is_ok());
    EXPECT_LT((*wal)->segment_count(), before);
    wal->reset();
    seen.clear();
    ASSERT_TRUE(open(&seen, 100).is_ok());
    ASSERT_FALSE(seen.empty());
    EXPECT_LE(seen.front().first, 7u);  // nothing at or after 7 was released
    EXPECT_EQ(seen.back().first, 12u);
}

}  // namespace
}  // namespace cleave::multiraft
