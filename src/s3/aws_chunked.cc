#include "s3/aws_chunked.h"

#include <algorithm>

#include <fmt/format.h>

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;

constexpr size_t kMaxLineBytes = 4096;
constexpr size_t kMaxTrailerBytes = 16 * 1024;

std::string signature_for_hash(const ChunkSigningContext& ctx, std::string_view prev,
                               std::string_view data_sha256_hex) {
    std::string sts = fmt::format("AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}", ctx.amz_date,
                                  ctx.scope, prev, kEmptySha256Hex, data_sha256_hex);
    return to_hex(hmac_sha256(ctx.signing_key, sts));
}

bool equal_ct(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char d = 0;
    for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
    return d == 0;
}

S3Error malformed(std::string_view what) {
    return s3_error(C::invalid_request, fmt::format("Malformed aws-chunked body: {}.", what));
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(Options options)
    : options_(std::move(options)), prev_signature_(options_.signing.seed_signature) {
    CLEAVE_ASSERT(is_streaming(options_.mode), "aws-chunked decoder for a non-streaming mode");
}

bool AwsChunkedDecoder::signed_chunks() const {
    return options_.mode == PayloadMode::streaming_signed ||
           options_.mode == PayloadMode::streaming_signed_trailer;
}

S3Status AwsChunkedDecoder::fail(S3Error error) {
    state_ = State::failed;
    error_ = error;
    return error;
}

S3Status AwsChunkedDecoder::on_header_line(std::string_view line) {
    // "<hex>[;chunk-signature=<sig>]" (other extensions are ignored).
    size_t semi = line.find(';');
    std::string_view hex = line.substr(0, semi);
    if (hex.empty() || hex.size() > 15) return fail(malformed("bad chunk size"));
    uint64_t size = 0;
    for (char c : hex) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return fail(malformed("bad chunk size"));
        size = size * 16 + static_cast<uint64_t>(v);
    }
    if (size > options_.max_chunk_bytes) return fail(malformed("chunk too large"));
    expected_signature_.clear();
    while (semi != std::string_view::npos) {
        size_t next = line.find(';', semi + 1);
        std::string_view ext =
            line.substr(semi + 1, next == line.npos ? line.npos : next - semi - 1);
        constexpr std::string_view kSig = "chunk-signature=";
        if (ext.starts_with(kSig)) expected_signature_ = to_lower(ext.substr(kSig.size()));
        semi = next;
    }
    if (signed_chunks() && expected_signature_.size() != 64)
        return fail(malformed("missing chunk-signature"));
    chunk_size_ = size;
    chunk_remaining_ = size;
    if (options_.decoded_length && decoded_bytes_ + size > *options_.decoded_length)
        return fail(s3_error(C::invalid_request,
                             "The decoded body is longer than x-amz-decoded-content-length."));
    state_ = size == 0 ? State::chunk_crlf : State::chunk_data;
    if (size == 0) return on_chunk_end();
    return S3Status::ok();
}

S3Status AwsChunkedDecoder::on_chunk_end() {
    // Called when a chunk's data is complete (before its trailing CRLF).
    if (signed_chunks()) {
        std::string actual =
            signature_for_hash(options_.signing, prev_signature_, to_hex(chunk_hash_.finish()));
        if (!equal_ct(actual, expected_signature_))
            return fail(s3_error(C::signature_does_not_match,
                                 "The chunk signature of an aws-chunked body does not match."));
        prev_signature_ = actual;
    } else {
        chunk_hash_.finish();
    }
    if (chunk_size_ == 0) {
        // The final chunk: no data, so no CRLF after data; what follows is the
        // end line or the trailer.
        if (options_.decoded_length && decoded_bytes_ != *options_.decoded_length)
            return fail(s3_error(C::incomplete_body,
                                 "The decoded body is shorter than x-amz-decoded-content-length."));
        state_ =
            options_.mode == PayloadMode::streaming_signed ? State::final_crlf : State::trailer;
        return S3Status::ok();
    }
    state_ = State::chunk_crlf;
    return S3Status::ok();
}

S3Status AwsChunkedDecoder::on_trailer_line(std::string_view line) {
    if (line.empty()) {
        if (options_.mode == PayloadMode::streaming_signed_trailer) {
            if (trailer_signature_.size() != 64)
                return fail(malformed("missing x-amz-trailer-signature"));
            std::string sts =
                fmt::format("AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}", options_.signing.amz_date,
                            options_.signing.scope, prev_signature_, to_hex(sha256(trailer_text_)));
            std::string actual = to_hex(hmac_sha256(options_.signing.signing_key, sts));
            if (!equal_ct(actual, trailer_signature_))
                return fail(s3_error(C::signature_does_not_match,
                                     "The trailer signature of an aws-chunked body does not "
                                     "match."));
        }
        state_ = State::done;
        return S3Status::ok();
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(malformed("bad trailer line"));
    std::string name = to_lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (name == "x-amz-trailer-signature") {
        trailer_signature_ = to_lower(value);
    } else {
        trailer_text_ += name + ":" + value + "\n";
        if (trailer_text_.size() > kMaxTrailerBytes) return fail(malformed("trailer too large"));
        trailers_.emplace_back(std::move(name), std::move(value));
    }
    return S3Status::ok();
}

S3Status AwsChunkedDecoder::feed(std::string_view input, std::string* out) {
    if (state_ == State::failed) return *error_;
    while (!input.empty()) {
        switch (state_) {
            case State::chunk_header:
            case State::trailer:
            case State::final_crlf: {
                size_t nl = input.find('\n');
                size_t take = nl == std::string_view::npos ? input.size() : nl + 1;
                line_.append(input.substr(0, take));
                input.remove_prefix(take);
                if (line_.size() > kMaxLineBytes) return fail(malformed("line too long"));
                if (line_.back() != '\n') break;  // need more input
                if (line_.size() < 2 || line_[line_.size() - 2] != '\r')
                    return fail(malformed("line not ended by CRLF"));
                std::string line = line_.substr(0, line_.size() - 2);
                line_.clear();
                S3Status st;
                if (state_ == State::chunk_header) {
                    st = on_header_line(line);
                } else if (state_ == State::trailer) {
                    st = on_trailer_line(line);
                } else {
                    if (!line.empty()) return fail(malformed("data after the final chunk"));
                    state_ = State::done;
                }
                if (!st) return st;
                break;
            }
            case State::chunk_data: {
                size_t take =
                    static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, input.size()));
                std::string_view data = input.substr(0, take);
                chunk_hash_.update(data);
                out->append(data);
                decoded_bytes_ += take;
                chunk_remaining_ -= take;
                input.remove_prefix(take);
                if (chunk_remaining_ == 0) {
                    S3Status st = on_chunk_end();
                    if (!st) return st;
                }
                break;
            }
            case State::chunk_crlf: {
                // Exactly "\r\n" after a chunk's data.
                line_ += input.front();
                input.remove_prefix(1);
                if (line_.size() == 2) {
                    if (line_ != "\r\n") return fail(malformed("chunk data not followed by CRLF"));
                    line_.clear();
                    state_ = State::chunk_header;
                }
                break;
            }
            case State::done:
                return fail(malformed("data after the final chunk"));
            case State::failed:
                return *error_;
        }
    }
    return S3Status::ok();
}

S3Status AwsChunkedDecoder::finish() {
    if (state_ == State::failed) return *error_;
    // Some clients end the trailer without the last empty line.
    if (state_ == State::trailer && line_.empty() &&
        options_.mode == PayloadMode::streaming_unsigned_trailer) {
        state_ = State::done;
    }
    if (state_ != State::done)
        return fail(
            s3_error(C::incomplete_body, "The aws-chunked body ended before its final chunk."));
    return S3Status::ok();
}

std::string aws_chunked_encode(std::string_view payload, size_t chunk_size,
                               const ChunkSigningContext& ctx) {
    CLEAVE_ASSERT(chunk_size > 0, "chunk size 0");
    std::string out;
    std::string prev = ctx.seed_signature;
    size_t pos = 0;
    while (true) {
        std::string_view data = payload.substr(pos, std::min(chunk_size, payload.size() - pos));
        std::string sig = chunk_signature(ctx, prev, data);
        out += fmt::format("{:x};chunk-signature={}\r\n", data.size(), sig);
        out += data;
        if (!data.empty()) out += "\r\n";
        prev = sig;
        pos += data.size();
        if (data.empty()) break;
    }
    out += "\r\n";
    return out;
}

uint64_t aws_chunked_encoded_length(uint64_t payload_size, size_t chunk_size) {
    auto header_len = [](uint64_t n) {
        return static_cast<uint64_t>(fmt::format("{:x}", n).size()) + 17 + 64 + 2;
    };
    uint64_t total = 0;
    uint64_t full = payload_size / chunk_size, rest = payload_size % chunk_size;
    total += full * (header_len(chunk_size) + chunk_size + 2);
    if (rest > 0) total += header_len(rest) + rest + 2;
    total += header_len(0) + 2;
    return total;
}

}  // namespace cleave::s3
