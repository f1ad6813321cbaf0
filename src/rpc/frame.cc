#include "rpc/frame.h"

#include "common/hash.h"

namespace cleave::rpc {

namespace {
void put_be32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint32_t get_be32(std::string_view s) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}
bool known_kind(uint8_t k) {
    switch (static_cast<FrameKind>(k)) {
        case FrameKind::hello:
        case FrameKind::challenge:
        case FrameKind::auth:
        case FrameKind::request:
        case FrameKind::response:
        case FrameKind::one_way:
        case FrameKind::chunk_part:
            return true;
    }
    return false;
}
}  // namespace

void encode_frame(const Frame& frame, std::string& out) {
    CLEAVE_ASSERT(frame.body.size() <= kMaxFrameBytes, "frame of {} bytes", frame.body.size());
    out.reserve(out.size() + kFrameHeaderBytes + frame.body.size());
    out.push_back('C');
    out.push_back('V');
    out.push_back(static_cast<char>(kFrameVersion));
    out.push_back(static_cast<char>(frame.kind));
    put_be32(out, static_cast<uint32_t>(frame.body.size()));
    put_be32(out, frame.request_id);
    put_be32(out, crc32c(frame.body));
    out.append(frame.body);
}

Result<std::optional<Frame>> FrameDecoder::next() {
    if (!failed_.is_ok()) return failed_;
    std::string_view rest = std::string_view(buffer_).substr(offset_);
    if (rest.size() < kFrameHeaderBytes) return std::optional<Frame>{};
    auto fail = [&](std::string why) -> Status {
        failed_ = Status::corruption(std::move(why));
        return failed_;
    };
    if (rest[0] != 'C' || rest[1] != 'V') return fail("bad frame magic");
    if (static_cast<uint8_t>(rest[2]) != kFrameVersion) {
        return fail(fmt::format("unsupported frame version {}", static_cast<int>(rest[2])));
    }
    if (!known_kind(static_cast<uint8_t>(rest[3]))) {
        return fail(fmt::format("unknown frame kind {}", static_cast<int>(rest[3])));
    }
    uint32_t length = get_be32(rest.substr(4));
    if (length > max_frame_bytes_) {
        return fail(
            fmt::format("frame of {} bytes exceeds the limit of {}", length, max_frame_bytes_));
    }
    if (rest.size() < kFrameHeaderBytes + length) return std::optional<Frame>{};
    Frame f;
    f.kind = static_cast<FrameKind>(rest[3]);
    f.request_id = get_be32(rest.substr(8));
    uint32_t crc = get_be32(rest.substr(12));
    f.body = std::string(rest.substr(kFrameHeaderBytes, length));
    if (crc32c(f.body) != crc) return fail("frame body fails its checksum");
    offset_ += kFrameHeaderBytes + length;
    // Compact once the consumed prefix dominates, so the buffer stays bounded.
    if (offset_ > (1u << 20) && offset_ * 2 > buffer_.size()) {
        buffer_.erase(0, offset_);
        offset_ = 0;
    }
    return std::optional<Frame>{std::move(f)};
}

}  // namespace cleave::rpc
