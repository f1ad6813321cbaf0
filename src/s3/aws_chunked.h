#pragma once
// Incremental decoder of `aws-chunked` request bodies (SigV4 streaming
// uploads, x-amz-content-sha256: STREAMING-*).
//
// Wire format of the signed mode (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
//
//     <hex size>;chunk-signature=<64 hex>\r\n
//     <size bytes of data>\r\n
//     ...                                  (more chunks)
//     0;chunk-signature=<64 hex>\r\n       (final, empty chunk)
//     \r\n
//
// Each chunk's signature signs the previous one (the first chains from the
// request's seed signature), so chunks cannot be dropped, reordered or
// altered. The trailer modes end with trailing headers instead of the empty
// line: "0[;chunk-signature=..]\r\n" then "name:value\r\n"... "\r\n"; in
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER an x-amz-trailer-signature line
// signs the trailers. STREAMING-UNSIGNED-PAYLOAD-TRAILER has no signatures.
//
// Input may be split anywhere (feed boundaries are arbitrary). Decoded bytes
// are handed out as soon as they arrive, before their chunk's signature is
// checked: the caller must treat them as provisional and commit nothing until
// finish() succeeds (the object store makes nothing visible before commit).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "s3/errors.h"
#include "s3/http_util.h"
#include "s3/sigv4.h"

namespace cleave::s3 {

class AwsChunkedDecoder {
  public:
    struct Options {
        PayloadMode mode = PayloadMode::streaming_signed;  // one of the streaming modes
        ChunkSigningContext signing;                       // unused when unsigned
        std::optional<uint64_t> decoded_length;            // x-amz-decoded-content-length
        uint64_t max_chunk_bytes = 64ULL << 20;            // refuse larger chunks
    };

    explicit AwsChunkedDecoder(Options options);
    AwsChunkedDecoder(const AwsChunkedDecoder&) = delete;
    AwsChunkedDecoder& operator=(const AwsChunkedDecoder&) = delete;

    // Consumes all of `input` and appends the decoded payload bytes to *out
    // (an output parameter so one buffer serves a whole upload). Errors:
    // SignatureDoesNotMatch (a chunk or the trailer), InvalidRequest (bad
    // framing, data after the end), IncompleteBody / InvalidRequest (decoded
    // length differs from x-amz-decoded-content-length). After an error the
    // decoder refuses all further input.
    S3Status feed(std::string_view input, std::string* out);

    // The encoded body ended: IncompleteBody unless the final chunk (and
    // trailer) was complete.
    S3Status finish();

    bool done() const { return state_ == State::done; }
    uint64_t decoded_bytes() const { return decoded_bytes_; }
    // Trailing headers (trailer modes), names lowercase; the trailer
    // signature line is not included.
    const HeaderList& trailers() const { return trailers_; }

  private:
    enum class State { chunk_header, chunk_data, chunk_crlf, final_crlf, trailer, done, failed };

    S3Status fail(S3Error error);
    S3Status on_header_line(std::string_view line);
    S3Status on_chunk_end();
    S3Status on_trailer_line(std::string_view line);
    bool signed_chunks() const;

    const Options options_;
    State state_ = State::chunk_header;
    std::string line_;  // partial header / trailer line
    uint64_t chunk_remaining_ = 0;
    uint64_t chunk_size_ = 0;
    std::string expected_signature_;  // of the chunk being read
    std::string prev_signature_;
    Hasher chunk_hash_{Hasher::Kind::sha256};
    uint64_t decoded_bytes_ = 0;
    HeaderList trailers_;
    std::string trailer_signature_;
    std::string trailer_text_;  // canonical trailer text that the trailer signature signs
    std::optional<S3Error> error_;
};

// Encodes `payload` as a signed aws-chunked body (clients and tests):
// chunks of chunk_size bytes, each signed in chain from ctx.seed_signature.
std::string aws_chunked_encode(std::string_view payload, size_t chunk_size,
                               const ChunkSigningContext& ctx);
// The Content-Length of that encoding.
uint64_t aws_chunked_encoded_length(uint64_t payload_size, size_t chunk_size);

}  // namespace cleave::s3
