#pragma once
// Pure pieces of S3 request handling, kept apart from the HTTP server so they
// can be tested without sockets: bucket-name rules, addressing (path-style and
// virtual-host-style), operation identification, Range, conditional headers,
// user metadata.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/errors.h"
#include "s3/http_util.h"
#include "service/object_service.h"

namespace cleave::s3 {

// S3 bucket naming rules: 3-63 characters of lowercase letters, digits, '.'
// and '-'; starts and ends with a letter or digit; no ".." nor ".-" nor "-.";
// not an IPv4 address; not starting with "xn--" or "sthree-", not ending with
// "-s3alias" or "--ol-s3". InvalidBucketName otherwise.
S3Status validate_bucket_name(std::string_view name);

// Where a request is addressed.
struct Addressing {
    std::string bucket;  // empty: the service (ListBuckets)
    std::string key;     // empty: the bucket itself
    bool virtual_host = false;
};

// Resolves the bucket and key from the Host header and the raw path (as on
// the wire, without the query). A host equal to a suffix is path-style; a
// host "<bucket>.<suffix>" (longest suffix wins) is virtual-host-style. The
// key is percent-decoded exactly once and otherwise kept byte for byte.
// InvalidRequest / InvalidURI-like errors on a malformed path escape.
S3Result<Addressing> resolve_addressing(std::string_view host, std::string_view raw_path,
                                        const std::vector<std::string>& suffixes);

enum class Operation {
    list_buckets,
    create_bucket,
    delete_bucket,
    head_bucket,
    get_bucket_location,
    get_bucket_versioning,
    list_objects_v1,
    list_objects_v2,
    list_multipart_uploads,
    delete_objects,
    put_object,
    copy_object,
    get_object,
    head_object,
    delete_object,
    create_multipart_upload,
    upload_part,
    complete_multipart_upload,
    abort_multipart_upload,
    list_parts,
};

std::string_view operation_name(Operation op);

// The operation a request asks for. NotImplemented for sub-resources Cleave
// does not serve (acl, policy, tagging, ...), MethodNotAllowed for methods S3
// does not know.
S3Result<Operation> identify_operation(std::string_view method, const Addressing& addr,
                                       const QueryParams& query, const HeaderList& headers);

// A byte range after resolution against the object size.
struct RangeSpec {
    bool present = false;     // a Range header that applies
    bool satisfiable = true;  // false: answer 416 InvalidRange
    uint64_t first = 0;
    uint64_t last = 0;  // inclusive
};
// "bytes=a-b", "bytes=a-", "bytes=-n". A syntactically invalid or multi-range
// header is ignored (RFC 7233 section 3.1), as S3 does.
RangeSpec resolve_range(std::string_view range_header, uint64_t size);

// Outcome of the conditional headers of a GET or HEAD (RFC 7232 section 6:
// If-Match, then If-Unmodified-Since when If-Match is absent, then
// If-None-Match, then If-Modified-Since when If-None-Match is absent).
enum class ConditionOutcome { proceed, not_modified, precondition_failed };
struct ConditionalHeaders {
    std::optional<std::string> if_match{};
    std::optional<std::string> if_none_match{};
    std::optional<std::string> if_modified_since{};
    std::optional<std::string> if_unmodified_since{};
};
ConditionOutcome evaluate_conditions(const ConditionalHeaders& h, std::string_view etag,
                                     int64_t last_modified_ms);

// True when the comma-separated ETag list (or "*") matches `etag` (unquoted).
bool etag_list_matches(std::string_view list, std::string_view etag);

// Collects the stored object headers from a request: Content-Type and the
// other standard ones, and x-amz-meta-* (names lowercased, prefix removed).
// MetadataTooLarge when the user metadata exceeds 2 KB (names + values).
S3Result<service::ObjectHeaders> object_headers_from_request(const HeaderList& headers);

// KeyTooLongError over 1024 bytes; InvalidArgument when empty.
S3Status validate_key(std::string_view key);

// Opaque V2 continuation tokens: base64 of the key to start after.
std::string encode_continuation_token(std::string_view start_after);
std::optional<std::string> decode_continuation_token(std::string_view token);

// Parses a decimal integer in [min, max]; nullopt otherwise.
std::optional<int64_t> parse_int(std::string_view s, int64_t min, int64_t max);

}  // namespace cleave::s3
