#include "shard/split_key.h"

#include <memory>
#include <string_view>

#include "shard/record_keys.h"
#include "shard/shard_range.h"

namespace cleave::shard {

namespace {

// Every pk shares its first 8 bytes with the rest of its root directory
// (meta/keyspace.h: H(bucket, root) leads).
constexpr size_t kHashPrefixBytes = 8;

// See split_key.h: record bytes, plus the data when it is not inline.
Result<uint64_t> object_weight(std::string_view key, std::string_view value) {
    ObjectRecord rec;
    if (!rec.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return Status::corruption("unparsable object record");
    }
    uint64_t weight = key.size() + value.size();
    if (rec.body().inline_data().empty()) weight += rec.body().size();
    return weight;
}

std::unique_ptr<storage::Iterator> objects(storage::Engine& engine, const ShardDescriptor& range,
                                           const storage::Snapshot* snapshot) {
    auto [begin, end] = family_cut(keys::kObject, range.start(), range.end());
    auto it = engine.iterate(
        storage::IterOptions{.lower_bound = begin, .upper_bound = end, .snapshot = snapshot});
    it->seek_to_first();
    return it;
}

struct Totals {
    uint64_t bytes = 0;
    uint64_t count = 0;
};

Result<Totals> totals(storage::Engine& engine, const ShardDescriptor& range,
                      const storage::Snapshot* snapshot) {
    Totals t;
    auto it = objects(engine, range, snapshot);
    for (; it->valid(); it->next()) {
        CLEAVE_ASSIGN_OR_RETURN(uint64_t w, object_weight(it->key(), it->value()));
        t.bytes += w;
        ++t.count;
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    return t;
}

}  // namespace

Result<uint64_t> shard_bytes(storage::Engine& engine) {
    auto snapshot = engine.snapshot();
    CLEAVE_ASSIGN_OR_RETURN(Totals t, totals(engine, ShardDescriptor{}, snapshot.get()));
    return t.bytes;
}

Result<std::optional<std::string>> choose_split_key(storage::Engine& engine,
                                                    const ShardDescriptor& range) {
    // Both passes read one snapshot, so the halves are of one state.
    auto snapshot = engine.snapshot();
    CLEAVE_ASSIGN_OR_RETURN(Totals total, totals(engine, range, snapshot.get()));
    if (total.count < 2) return std::optional<std::string>{};

    uint64_t below = 0;                // weight of the objects before the current one
    uint64_t dir_below = 0;            // weight of the objects before the current directory
    std::string dir;                   // hash prefix of the current directory
    std::optional<std::string> after;  // set: cut right after this pk
    auto it = objects(engine, range, snapshot.get());
    for (; it->valid(); it->next()) {
        const std::string_view pk = it->key().substr(1);
        if (after) {
            // The first object held half the weight; this is the next one.
            std::string next_dir(pk.substr(0, kHashPrefixBytes));
            return std::optional<std::string>{next_dir > *after ? next_dir : std::string(pk)};
        }
        CLEAVE_ASSIGN_OR_RETURN(uint64_t w, object_weight(it->key(), it->value()));
        if (pk.substr(0, kHashPrefixBytes) != dir) {
            dir = std::string(pk.substr(0, kHashPrefixBytes));
            dir_below = below;
        }
        if (2 * (below + w) > total.bytes) {
            // This object holds the middle byte: cut before it, or before its
            // directory if that leaves a fair share below.
            if (dir > range.start() && 4 * dir_below >= total.bytes && dir_below > 0) {
                return std::optional<std::string>{dir};
            }
            if (below > 0) return std::optional<std::string>{std::string(pk)};
            after = std::string(pk);
        }
        below += w;
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    // Not reached: both passes see the same >= 2 objects, so the middle byte
    // is found and an object follows the first. Nothing to cut is the safe
    // answer if it ever is.
    return std::optional<std::string>{};
}

}  // namespace cleave::shard
