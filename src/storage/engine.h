#pragma once
// The ordered key-value Engine every node keeps its state in (DESIGN.md §8).
//
// Implementations: storage/rocksdb (the embedded default), storage/memory (for
// tests; can simulate power loss), storage/redis (issue 6). One conformance
// suite (engine_conformance_test.cc) runs against every implementation.
//
// Threading: every method may be called from any thread concurrently, except
// that an Iterator or Snapshot is used by one thread at a time. A Snapshot and
// an Iterator must be destroyed before the Engine that made them.
//
// Keys and values are arbitrary bytes; keys order bytewise (memcmp, shorter
// first on a common prefix).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cleave::storage {

// A consistent, read-only view of the engine at one moment. Opaque; released
// when destroyed.
class Snapshot {
  public:
    virtual ~Snapshot() = default;
};

// An ordered cursor over [lower_bound, upper_bound). Positions are only valid
// while valid() is true; key() and value() views stay valid until the next
// call that moves the iterator.
class Iterator {
  public:
    virtual ~Iterator() = default;
    virtual void seek_to_first() = 0;                // first key >= lower_bound
    virtual void seek(std::string_view target) = 0;  // first key >= max(target, lower_bound)
    virtual bool valid() const = 0;
    virtual void next() = 0;                     // requires valid()
    virtual std::string_view key() const = 0;    // requires valid()
    virtual std::string_view value() const = 0;  // requires valid()
    // Not OK when iteration stopped because of an error rather than the end.
    virtual Status status() const = 0;
};

struct IterOptions {
    std::string lower_bound{};                 // inclusive
    std::optional<std::string> upper_bound{};  // exclusive; none = to the end
    const Snapshot* snapshot = nullptr;        // none = the latest state
};

// An atomic group of mutations: all of them apply, or none.
class WriteBatch {
  public:
    enum class OpType : uint8_t { put, del, delete_range };
    struct Op {
        OpType type;
        std::string key;    // for delete_range: begin (inclusive)
        std::string value;  // for delete_range: end (exclusive)
    };

    void put(std::string_view key, std::string_view value) {
        ops_.push_back({OpType::put, std::string(key), std::string(value)});
        bytes_ += key.size() + value.size();
    }
    void del(std::string_view key) {
        ops_.push_back({OpType::del, std::string(key), {}});
        bytes_ += key.size();
    }
    void delete_range(std::string_view begin, std::string_view end) {
        ops_.push_back({OpType::delete_range, std::string(begin), std::string(end)});
        bytes_ += begin.size() + end.size();
    }
    const std::vector<Op>& ops() const { return ops_; }
    bool empty() const { return ops_.empty(); }
    size_t size_bytes() const { return bytes_; }
    void clear() {
        ops_.clear();
        bytes_ = 0;
    }

  private:
    std::vector<Op> ops_;
    size_t bytes_ = 0;
};

struct WriteOptions {
    // When true the write is durable (survives power loss) before write()
    // returns. When false it may be lost on power loss, but never torn: a batch
    // is lost whole or kept whole.
    bool sync = true;
};

class Engine {
  public:
    virtual ~Engine() = default;
    Engine() = default;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // The value of `key`, std::nullopt if absent, or an error.
    virtual Result<std::optional<std::string>> get(std::string_view key,
                                                   const Snapshot* snapshot = nullptr) = 0;
    virtual Status write(const WriteBatch& batch, const WriteOptions& options = {}) = 0;
    virtual std::unique_ptr<Iterator> iterate(const IterOptions& options) = 0;
    virtual std::unique_ptr<Snapshot> snapshot() = 0;

    // Makes every write so far durable.
    virtual Status sync() = 0;
    // Writes a consistent, openable copy of the whole engine into `dir`
    // (which must not exist). Used for Raft snapshots and backups.
    virtual Status checkpoint(const std::string& dir) = 0;
    // Approximate bytes stored in [begin, end); may be 0 for tiny ranges.
    virtual Result<uint64_t> approximate_size(std::string_view begin, std::string_view end) = 0;
    // Short name for logs and metrics: "rocksdb", "memory", "redis".
    virtual std::string_view name() const = 0;

    // Conveniences over write().
    Status put(std::string_view key, std::string_view value, const WriteOptions& o = {}) {
        WriteBatch b;
        b.put(key, value);
        return write(b, o);
    }
    Status del(std::string_view key, const WriteOptions& o = {}) {
        WriteBatch b;
        b.del(key);
        return write(b, o);
    }
};

}  // namespace cleave::storage
