#include "shard/shard_range.h"

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::shard {

bool range_contains(const ShardDescriptor& range, std::string_view pk) {
    // "" as start is -infinity, and every pk is >= "": no special case.
    if (pk < std::string_view(range.start())) return false;
    return range.end().empty() || pk < std::string_view(range.end());
}

std::pair<std::string, std::string> family_cut(char family, std::string_view lo,
                                               std::string_view hi) {
    std::string end =
        hi.empty() ? std::string(1, static_cast<char>(family + 1)) : keys::with_family(family, hi);
    return {keys::with_family(family, lo), std::move(end)};
}

void delete_placed(storage::WriteBatch& batch, std::string_view lo, std::string_view hi) {
    for (char f : kPlacedFamilies) {
        auto [begin, end] = family_cut(f, lo, hi);
        batch.delete_range(begin, end);
    }
}

const std::string& range_key() {
    static const std::string k = keys::state("range");
    return k;
}

Result<std::optional<ShardDescriptor>> read_range(storage::Engine& engine,
                                                  const storage::Snapshot* snapshot) {
    CLEAVE_ASSIGN_OR_RETURN(auto raw, engine.get(range_key(), snapshot));
    if (!raw) return std::optional<ShardDescriptor>();
    ShardDescriptor d;
    if (!d.ParseFromString(*raw)) return Status::corruption("unparsable shard range record");
    return std::optional<ShardDescriptor>(std::move(d));
}

std::string describe_range(const ShardDescriptor& range) {
    return fmt::format("shard {} [{}, {}) epoch {}", range.id(),
                       range.start().empty() ? "-inf" : to_hex(range.start()),
                       range.end().empty() ? "+inf" : to_hex(range.end()), range.epoch());
}

}  // namespace cleave::shard
