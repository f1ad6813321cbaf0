#pragma once
// The node's write-ahead log, shared by every Raft group on the node
// (DESIGN.md §5, issue 4): one append + one fdatasync covers the entries and
// hard states of many groups (group commit).
//
//   DIR/wal-000000000001.log   segments, named by the LSN of their first record
//   DIR/wal-000000000417.log
//
//   record := length u32 | crc32c u32 | kind u8 | group u64 | payload
//             (length counts kind+group+payload; the CRC covers the same bytes)
//
// Every record gets a log sequence number (LSN), consecutive from 1 across
// segments. A segment is closed once it passes segment_bytes; the owner
// releases whole segments whose records it no longer needs (every group has
// compacted past them) with release_before().
//
// Recovery (open): every segment is read in order. The last segment may end
// in a torn record (a crash mid-write): it is cut at the last whole record
// and the file truncated there. A bad record anywhere else is corruption and
// open fails, naming the file and offset: data that was acknowledged is never
// silently dropped.
//
// Threading: one writer (the host's persist loop). Not thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace cleave::multiraft {

struct WalRecord {
    uint8_t kind = 0;    // owner-defined: entries, hard state, snapshot marker...
    uint64_t group = 0;  // Raft group id
    std::string payload;
};

struct WalOptions {
    uint64_t segment_bytes = 64ULL << 20;
    bool sync = true;  // fdatasync on every append (off only in tests of other things)
};

class Wal {
  public:
    // Opens (creating) the WAL in `dir` and recovers it; `replay` is called
    // for every whole record, in LSN order, before open returns.
    static Result<std::unique_ptr<Wal>> open(
        const std::string& dir, WalOptions options,
        const std::function<void(uint64_t lsn, const WalRecord&)>& replay);
    ~Wal();
    Wal(const Wal&) = delete;
    Wal& operator=(const Wal&) = delete;

    // Appends the records and makes them durable (one write, one fdatasync),
    // together with every record appended before without a sync. Returns the
    // LSN of the last one. After an error the WAL refuses further appends: the
    // caller must stop (its view of what is durable is unknown).
    //
    // sync = false writes without the fdatasync, for records whose loss in a
    // crash is harmless (a Raft commit index: it is learned again). They
    // become durable with the next synced append or segment switch, so the
    // log on disk never has a hole: a crash may only cut unsynced records at
    // the tail.
    Result<uint64_t> append(const std::vector<WalRecord>& records, bool sync = true);

    // Deletes every closed segment all of whose records have LSN < lsn.
    Status release_before(uint64_t lsn);

    uint64_t last_lsn() const { return last_lsn_; }
    size_t segment_count() const { return segments_.size(); }

    // Stats for benchmarks: appends and fsyncs done.
    uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }  // any thread

  private:
    struct Segment {
        uint64_t first_lsn;
        std::string path;
    };
    Wal(std::string dir, WalOptions options);
    Status open_new_segment();

    const std::string dir_;
    const WalOptions options_;
    std::vector<Segment> segments_;  // in LSN order; the last one is open
    int fd_ = -1;                    // the open (last) segment
    uint64_t segment_size_ = 0;
    uint64_t last_lsn_ = 0;
    std::atomic<uint64_t> syncs_{0};
    bool unsynced_ = false;  // the open segment holds records not yet synced
    Status failed_;
};

}  // namespace cleave::multiraft
