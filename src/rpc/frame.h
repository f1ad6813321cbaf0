#pragma once
// Node-to-node framing (DESIGN.md §9): one TCP connection per node pair
// carries length-prefixed frames, each a protobuf message of a kind the
// header names, multiplexed by a request id.
//
//   0      2    3    4              8              12             16
//   +------+----+----+--------------+--------------+--------------+----------
//   | 'CV' | v1 |kind| length (BE)  | request id   | crc32c(body) | body ...
//   +------+----+----+--------------+--------------+--------------+----------
//
// The CRC covers the body, so a corrupted frame is detected before it is
// parsed; the length is bounded (kMaxFrameBytes) so a peer can't make us
// allocate without limit. Pure code: the transport feeds bytes in and takes
// bytes out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cleave::rpc {

inline constexpr size_t kFrameHeaderBytes = 16;
inline constexpr uint32_t kMaxFrameBytes = 16u << 20;  // a 4 MiB chunk plus headroom
inline constexpr uint8_t kFrameVersion = 1;

enum class FrameKind : uint8_t {
    hello = 1,  // handshake, see handshake.h
    challenge = 2,
    auth = 3,
    request = 10,     // request id names the call
    response = 11,    // same request id as its request
    one_way = 12,     // no response (Raft message batches, heartbeats)
    chunk_part = 13,  // a piece of a streamed chunk transfer
};

struct Frame {
    FrameKind kind = FrameKind::one_way;
    uint32_t request_id = 0;
    std::string body;
};

// Appends the encoding of `frame` to `out`.
void encode_frame(const Frame& frame, std::string& out);

// Incremental decoder: feed bytes as they arrive, take whole frames out.
// After an error the decoder stays failed (the connection must be closed).
class FrameDecoder {
  public:
    explicit FrameDecoder(uint32_t max_frame_bytes = kMaxFrameBytes)
        : max_frame_bytes_(max_frame_bytes) {}

    void feed(std::string_view bytes) { buffer_.append(bytes); }
    // The next whole frame, nullopt if more bytes are needed, or an error
    // (corruption: bad magic, version, length or CRC).
    Result<std::optional<Frame>> next();
    size_t buffered() const { return buffer_.size() - offset_; }
    // The bytes fed but not yet taken as frames (a partial frame included),
    // for handing a connection over to another decoder; empties this one.
    std::string take_rest() {
        std::string rest = buffer_.substr(offset_);
        buffer_.clear();
        offset_ = 0;
        return rest;
    }

  private:
    const uint32_t max_frame_bytes_;
    std::string buffer_;
    size_t offset_ = 0;
    Status failed_;
};

}  // namespace cleave::rpc
