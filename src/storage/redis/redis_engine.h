#pragma once
// An Engine on a Redis server (issue 6; DESIGN.md §8), through hiredis. This
// directory is the only place in Cleave that includes hiredis.
//
// Data layout, for key prefix P (several engines can share a server with
// different prefixes; one engine per prefix at a time):
//
//   P"z"              sorted set: every key, all with score 0, so the set is
//                     ordered bytewise and ZRANGEBYLEX serves ordered scans
//   P"h"              hash: key → value
//   P"bytes"          integer: total bytes of keys and values (size estimates)
//   P"snapseq"        integer: snapshot id allocator
//   P"snap:<n>:z|h"   a snapshot's frozen copy of P"z" and P"h"
//
// Atomic batches: one Lua script applies a whole WriteBatch (puts, deletes,
// range deletes, the byte counter). Redis runs a script without interleaving
// any other command and writes its effects to the AOF as one MULTI/EXEC, which
// AOF loading applies whole or not at all. The batch is validated before it is
// sent, so the script has no error path of its own.
//
// Snapshots: a Lua script COPYs P"z" and P"h" to P"snap:<n>:…" atomically
// (Redis ≥ 6.2). That is O(n) in server memory and time per snapshot, chosen
// for obvious correctness over speed; snapshots are for Raft snapshots and
// checkpoints, which are rare. Dropping the Snapshot UNLINKs the copy;
// copies left by a crashed process are removed when an engine next opens on
// the prefix.
//
// Iterators without a snapshot read in pages (one atomic script call per
// page), so each page is consistent but a write made while an iterator is in
// use may or may not be seen by its later pages; every key present for the
// iterator's whole life is seen exactly once, in order. Pass a snapshot for a
// fully consistent scan.
//
// approximate_size(): ZLEXCOUNT of the range times the average entry size
// (P"bytes" / ZCARD) — O(log n), exact when entries are of similar size.
//
// Durability: open() refuses (precondition_failed) a server without
// `appendonly yes` and `appendfsync always` unless allow_weak_durability is
// set; the check repeats on every reconnect. With both settings Redis
// fsyncs each write before replying, so every acknowledged write is durable
// whatever WriteOptions::sync says, and sync() only checks the server is
// reachable.
//
// Failures: a lost connection (or a timeout) makes the call return
// unavailable with the server address and the cause; the next call
// reconnects. A write that returns unavailable may or may not have been
// applied (the reply was lost), but a write that returns OK always was.
//
// Threading: the engine serialises its calls on one connection; all methods
// are thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "storage/engine.h"

namespace cleave::storage {

struct RedisUrl {
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::string user{};      // empty: AUTH with the password alone
    std::string password{};  // empty: no AUTH
};

// Parses redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (HOST may be [IPv6]).
// invalid_argument, naming the problem, for anything else.
Result<RedisUrl> parse_redis_url(std::string_view url);

struct RedisOptions {
    std::string url = "redis://127.0.0.1:6379/0";
    std::string key_prefix = "cleave:";
    bool allow_weak_durability = false;
    int64_t timeout_ms = 5000;  // connect and per-command timeout
};

class RedisEngine final : public Engine {
  public:
    // Connects, checks durability settings (see above), removes stale
    // snapshot copies under the prefix. Errors: invalid_argument (bad url),
    // unavailable (cannot connect), precondition_failed (weak durability,
    // Redis too old).
    static Result<std::unique_ptr<RedisEngine>> open(const RedisOptions& options);
    // Loads a checkpoint written by checkpoint() into options.key_prefix,
    // which must hold no data (already_exists otherwise). On failure the
    // prefix is emptied again.
    static Status restore_checkpoint(const std::string& dir, const RedisOptions& options);
    ~RedisEngine() override;

    Result<std::optional<std::string>> get(std::string_view key,
                                           const Snapshot* snapshot = nullptr) override;
    Status write(const WriteBatch& batch, const WriteOptions& options = {}) override;
    std::unique_ptr<Iterator> iterate(const IterOptions& options) override;
    std::unique_ptr<Snapshot> snapshot() override;
    Status sync() override;
    // A portable dump (storage/dump.h) of a snapshot, written by this process
    // into `dir`; restore it with restore_checkpoint() or load it into any
    // engine with load_dump().
    Status checkpoint(const std::string& dir) override;
    Result<uint64_t> approximate_size(std::string_view begin, std::string_view end) override;
    std::string_view name() const override { return "redis"; }

    struct Impl;

  private:
    explicit RedisEngine(std::shared_ptr<Impl> impl);
    // Shared with snapshots and iterators, which the contract says die
    // first; shared anyway so a misuse cannot touch freed memory.
    const std::shared_ptr<Impl> impl_;
};

}  // namespace cleave::storage
