#pragma once
// A chunk's name: the SHA-256 of its bytes (DESIGN.md §6).

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace cleave::blob {

// A chunk's name: the SHA-256 of its bytes. Can also hold a malformed id (from
// a damaged record); every store method refuses one with invalid_argument.
class ChunkId {
  public:
    static constexpr size_t kSize = 32;

    ChunkId() = default;  // malformed until assigned
    // The id of `data` (hashes it).
    static ChunkId of(std::string_view data);
    // From 32 raw bytes; any other length gives a malformed id.
    static ChunkId from_bytes(std::string_view raw);
    // From 64 hex digits; anything else gives a malformed id.
    static ChunkId from_hex(std::string_view hex);

    bool valid() const { return valid_; }
    std::string_view bytes() const {
        return {reinterpret_cast<const char*>(raw_.data()), raw_.size()};
    }
    std::string hex() const;

    friend bool operator==(const ChunkId&, const ChunkId&) = default;
    friend auto operator<=>(const ChunkId&, const ChunkId&) = default;

  private:
    std::array<uint8_t, kSize> raw_{};
    bool valid_ = false;
};

// The raw 32 bytes, as stored in object records.
inline std::string chunk_id_bytes(const ChunkId& id) { return std::string(id.bytes()); }
inline ChunkId chunk_id_from_bytes(std::string_view raw) { return ChunkId::from_bytes(raw); }

}  // namespace cleave::blob

template <>
struct std::hash<cleave::blob::ChunkId> {
    size_t operator()(const cleave::blob::ChunkId& id) const noexcept {
        size_t h = 0;
        std::memcpy(&h, id.bytes().data(), sizeof h);  // already uniformly distributed
        return h;
    }
};
