#pragma once
// AWS Signature Version 4 for S3: verification (server) and signing (clients:
// the `cleave` CLI and tests).
//
// Verification covers the three ways S3 clients authenticate:
//   - an Authorization header ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
//     Signature=..."), with the payload described by x-amz-content-sha256: a hex
//     SHA-256 of the body (the caller must check the body against it),
//     UNSIGNED-PAYLOAD, or one of the aws-chunked streaming modes (the caller
//     decodes the body with s3/aws_chunked.h, chaining from the seed signature);
//   - a presigned URL (X-Amz-Algorithm, -Credential, -Date, -Expires,
//     -SignedHeaders, -Signature in the query); expiry 1 s to 7 days;
//   - nothing: anonymous requests are refused with AccessDenied.
// Legacy: SigV2 *presigned URLs* (AWSAccessKeyId, Expires, Signature in the
// query) are also accepted, with the same 7-day bound, because boto3's
// generate_presigned_url and awscli v1's `s3 presign` still produce them by
// default. SigV2 Authorization headers are refused (InvalidRequest).
//
// The credential scope's region is accepted as sent (any region), so clients
// configured for another default region still work against one endpoint; the
// signature is computed with the region the client signed with.
//
// Canonical URI: S3 does not normalise paths and does not double-encode: the
// path is decoded once and re-encoded with S3's UriEncode (slashes kept). A
// client that signs its path exactly as sent on the wire is also accepted
// (the raw path is tried when the re-encoded one does not match).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "s3/credentials.h"
#include "s3/errors.h"
#include "s3/http_util.h"

namespace cleave::s3 {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedPayloadTrailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

inline constexpr int64_t kMaxClockSkewMs = 15 * 60 * 1000;
inline constexpr int64_t kMaxPresignExpirySeconds = 7 * 24 * 3600;

// What SigV4 sees of an HTTP request.
struct SigV4Request {
    std::string method;    // "GET", "PUT", ...
    std::string raw_path;  // as on the wire: percent-encoded, without the query
    QueryParams query;     // decoded name/value pairs, in wire order
    HeaderList headers;    // names in any case; repeated names allowed
    // The bucket when it was addressed by the Host header (virtual-host
    // style); only the legacy SigV2 presigned URLs below need it.
    std::string virtual_host_bucket;
};

// How the body of an authenticated request is to be checked.
enum class PayloadMode {
    sha256,                      // body must hash to AuthContext::payload_sha256_hex
    unsigned_payload,            // UNSIGNED-PAYLOAD (and presigned URLs)
    streaming_signed,            // aws-chunked, every chunk signed
    streaming_signed_trailer,    // aws-chunked, chunks and trailer signed
    streaming_unsigned_trailer,  // aws-chunked, no chunk signatures, trailer
};

bool is_streaming(PayloadMode mode);

// What the chunk signatures of an aws-chunked body chain from.
struct ChunkSigningContext {
    std::string signing_key;     // raw 32 bytes
    std::string amz_date;        // "20130524T000000Z"
    std::string scope;           // "20130524/us-east-1/s3/aws4_request"
    std::string seed_signature;  // hex, the request's own signature
};

// A successfully authenticated request.
struct AuthContext {
    std::string access_key;
    bool presigned = false;
    PayloadMode payload_mode = PayloadMode::unsigned_payload;
    std::string payload_sha256_hex;     // lowercase; set in PayloadMode::sha256
    ChunkSigningContext chunk_signing;  // set in the streaming modes
};

struct VerifyOptions {
    int64_t now_ms = 0;  // server wall clock
    int64_t max_skew_ms = kMaxClockSkewMs;
};

// Authenticates `request`. Errors: AccessDenied (anonymous, expired presign),
// InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed,
// AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
// InvalidRequest / InvalidArgument (missing or bad x-amz-content-sha256).
// Does not read the body: in PayloadMode::sha256 the caller must hash the body
// and answer XAmzContentSHA256Mismatch when it differs.
S3Result<AuthContext> verify_request(const SigV4Request& request,
                                     const CredentialProvider& credentials,
                                     const VerifyOptions& options);

// ---- Building blocks (public for the signing side and for tests) ----

// The canonical request of SigV4 ("CanonicalRequest" in AWS's docs).
// `signed_headers` are lowercase names, sorted, e.g. {"host", "x-amz-date"}.
std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              const QueryParams& query, const HeaderList& headers,
                              const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash);
// The canonical query string: names and values UriEncoded, sorted by name then
// value, joined with '&'; `skip` (e.g. "X-Amz-Signature") is left out.
std::string canonical_query_string(const QueryParams& query, std::string_view skip = {});
// The canonical URI of a raw path: decoded once, re-encoded with slashes kept.
std::string canonical_uri(std::string_view raw_path);
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_text);
// kSecret = "AWS4" + secret; HMAC chain over date, region, service,
// "aws4_request". Returns raw 32 bytes.
std::string derive_signing_key(std::string_view secret_key, std::string_view date_yyyymmdd,
                               std::string_view region, std::string_view service);
// Hex signature of one aws-chunked chunk (prev_signature is hex).
std::string chunk_signature(const ChunkSigningContext& ctx, std::string_view prev_signature,
                            std::string_view chunk_data);

// ---- Signing side ----

struct Credentials {
    std::string access_key;
    std::string secret_key;
};

struct SignOptions {
    std::string region = "us-east-1";
    std::string service = "s3";
    int64_t now_ms = 0;
};

// Signs `request` in place with an Authorization header: adds x-amz-date and
// x-amz-content-sha256 (= payload_hash: a lowercase hex SHA-256 of the body,
// kUnsignedPayload, or a streaming mode), then signs every header present
// (a Host header is required). Returns the hex signature (the seed signature
// for a streaming body). invalid_argument when Host is missing.
Result<std::string> sign_request(SigV4Request& request, std::string_view payload_hash,
                                 const Credentials& credentials, const SignOptions& options);

// Presigns a request: returns "raw_path?query" (the request's own query plus
// the X-Amz-* parameters, all encoded), to be appended to "http://host:port".
// Signs the Host header of `request` (required) and any other headers present
// (those must then be sent with the URL). expires_s must be 1..604800.
Result<std::string> presign_url(const SigV4Request& request, int64_t expires_s,
                                const Credentials& credentials, const SignOptions& options);

}  // namespace cleave::s3
