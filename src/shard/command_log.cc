#include "shard/command_log.h"

#include "common/hash.h"
#include "meta/keyspace.h"
#include "shard/record_keys.h"

namespace cleave::shard {

// Each record is crc32c(payload) ‖ payload, so a damaged record is detected
// at replay instead of being applied.
namespace {
std::string encode(const std::string& payload) {
    std::string out = keys::be32(crc32c(payload));
    out.append(payload);
    return out;
}

Result<std::string> decode(uint64_t index, std::string_view raw) {
    if (raw.size() < 4) return Status::corruption(fmt::format("log record {} too short", index));
    uint32_t crc = keys::parse_be32(raw.substr(0, 4));
    std::string payload(raw.substr(4));
    if (crc32c(payload) != crc) {
        return Status::corruption(fmt::format("log record {} fails its checksum", index));
    }
    return payload;
}
}  // namespace

Result<std::unique_ptr<EngineCommandLog>> EngineCommandLog::open(storage::Engine& engine) {
    auto log = std::unique_ptr<EngineCommandLog>(new EngineCommandLog(engine));
    std::string begin(1, keys::kLog);
    storage::IterOptions o;
    o.lower_bound = begin;
    o.upper_bound = meta::prefix_successor(begin);
    auto it = engine.iterate(o);
    it->seek_to_first();
    const bool found = it->valid();
    if (found) {
        log->first_index_ = keys::parse_be64(it->key().substr(1));
        // Find the last index: entries are contiguous, so scan forward. Logs
        // are compacted regularly, so this stays short.
        uint64_t last = log->first_index_;
        for (; it->valid(); it->next()) last = keys::parse_be64(it->key().substr(1));
        log->last_index_ = last;
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    if (!found) {
        // Empty log: continue after the applied index if any (compacted away).
        auto applied = engine.get(keys::state("applied_index"));
        if (!applied.is_ok()) return applied.status();
        if (applied->has_value()) {
            log->last_index_ = keys::parse_be64(**applied);
            log->first_index_ = log->last_index_ + 1;
        }
    }
    return log;
}

Status EngineCommandLog::append(const std::vector<LogEntry>& entries) {
    if (entries.empty()) return Status::ok();
    storage::WriteBatch b;
    uint64_t expect = last_index_ + 1;
    for (const auto& e : entries) {
        CLEAVE_ASSERT(e.index == expect, "log append not contiguous: {} after {}", e.index,
                      expect - 1);
        b.put(keys::log_entry(e.index), encode(e.payload));
        ++expect;
    }
    CLEAVE_RETURN_IF_ERROR(engine_.write(b, storage::WriteOptions{.sync = true}));
    last_index_ = entries.back().index;
    return Status::ok();
}

Result<std::vector<LogEntry>> EngineCommandLog::read(uint64_t from, size_t max) {
    storage::IterOptions o;
    o.lower_bound = keys::log_entry(from);
    o.upper_bound = meta::prefix_successor(std::string(1, keys::kLog));
    auto it = engine_.iterate(o);
    std::vector<LogEntry> out;
    uint64_t expect = from;
    for (it->seek_to_first(); it->valid() && out.size() < max; it->next()) {
        uint64_t index = keys::parse_be64(it->key().substr(1));
        if (index != expect) break;  // a gap ends the readable log
        CLEAVE_ASSIGN_OR_RETURN(std::string payload, decode(index, it->value()));
        out.push_back({index, std::move(payload)});
        ++expect;
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    return out;
}

Status EngineCommandLog::compact(uint64_t upto) {
    if (upto < first_index_) return Status::ok();
    storage::WriteBatch b;
    b.delete_range(keys::log_entry(first_index_), keys::log_entry(upto + 1));
    CLEAVE_RETURN_IF_ERROR(engine_.write(b, storage::WriteOptions{.sync = false}));
    first_index_ = upto + 1;
    return Status::ok();
}

}  // namespace cleave::shard
