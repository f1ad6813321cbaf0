#pragma once
// Strong types for ids, terms, indexes and epochs (STYLE.md, convention 4):
// a term can't be passed where an index is expected.

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

#include <fmt/format.h>

namespace cleave {

template <typename Tag, typename Rep = uint64_t>
class StrongId {
  public:
    using rep = Rep;
    constexpr StrongId() = default;
    constexpr explicit StrongId(Rep v) : v_(v) {}
    constexpr Rep value() const { return v_; }
    constexpr auto operator<=>(const StrongId&) const = default;
    constexpr StrongId next() const { return StrongId(v_ + 1); }
    constexpr StrongId prev() const { return StrongId(v_ - 1); }
    friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.v_; }

  private:
    Rep v_ = 0;
};

struct NodeIdTag {};
struct GroupIdTag {};
struct TermTag {};
struct IndexTag {};
struct EpochTag {};
struct ShardIdTag {};

using NodeId = StrongId<NodeIdTag>;    // one cleave process
using GroupId = StrongId<GroupIdTag>;  // one Raft group (== shard id for data shards)
using Term = StrongId<TermTag>;        // Raft term
using Index = StrongId<IndexTag>;      // Raft log index
using Epoch = StrongId<EpochTag>;      // version of a shard's range and membership
using ShardId = StrongId<ShardIdTag>;

}  // namespace cleave

template <typename Tag, typename Rep>
struct std::hash<cleave::StrongId<Tag, Rep>> {
    size_t operator()(cleave::StrongId<Tag, Rep> id) const noexcept {
        return std::hash<Rep>{}(id.value());
    }
};

template <typename Tag, typename Rep>
struct fmt::formatter<cleave::StrongId<Tag, Rep>> : fmt::formatter<Rep> {
    auto format(cleave::StrongId<Tag, Rep> id, fmt::format_context& ctx) const {
        return fmt::formatter<Rep>::format(id.value(), ctx);
    }
};
