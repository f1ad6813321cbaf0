#pragma once
// ObjectService: what the S3 layer (and any other front end) may ask of the
// store. The S3 layer talks only to this interface, never to Raft, an engine
// or the chunk store (STYLE.md layering). Today it is implemented by
// service/local_object_service (one node: command log + state machine + chunk
// store); the replicated cluster implements the same interface by routing to
// shards.
//
// Threading: every method may be called from any thread concurrently; calls
// may block on disk I/O (an fsync), so callers on an event loop run them where
// blocking is acceptable.
//
// Errors: Status codes from common/status.h. The ones a caller must expect:
//   no_such_bucket, no_such_key, no_such_upload, already_exists (bucket),
//   not_empty (bucket), precondition_failed (a write condition failed),
//   invalid_part / invalid_part_order / entity_too_small (multipart complete),
//   invalid_argument (bad name, bad part number, ...), too_large,
//   corruption (a chunk failed verification: never served),
//   unavailable / io_error (try again later).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace cleave::service {

// Limits the service enforces (S3's published limits).
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxUserMetadataBytes = 2048;
inline constexpr uint64_t kMaxPutBytes = 5ULL << 30;   // single PUT
inline constexpr uint64_t kMinPartBytes = 5ULL << 20;  // all parts but the last
inline constexpr uint64_t kMaxPartBytes = 5ULL << 30;
inline constexpr uint32_t kMaxPartNumber = 10000;

// Standard headers kept with an object and returned on GET/HEAD.
struct ObjectHeaders {
    std::string content_type;  // empty = binary/octet-stream
    std::string content_encoding;
    std::string content_disposition;
    std::string content_language;
    std::string cache_control;
    std::string expires;
    // x-amz-meta-* headers: names lowercase, without the "x-amz-meta-" prefix.
    std::vector<std::pair<std::string, std::string>> user_metadata;
};

struct ObjectInfo {
    std::string key;
    uint64_t size = 0;
    std::string etag;  // without quotes: hex MD5, or "<hex>-<parts>" for multipart
    int64_t last_modified_ms = 0;
    uint32_t parts_count = 0;  // 0 for a single-part object
    ObjectHeaders headers;
};

struct BucketInfo {
    std::string name;
    int64_t created_ms = 0;
};

// Preconditions checked atomically with a write (inside the state machine).
struct WriteConditions {
    bool if_none_match_star = false;           // create only if the key is absent
    std::optional<std::string> if_match_etag;  // write only if the current ETag is this
};

// Digests of a complete body, computed while it streamed through.
struct BodyDigest {
    uint64_t size = 0;
    std::string md5;     // raw 16 bytes
    std::string sha256;  // raw 32 bytes
};

// Receives one object's (or one part's) body as it streams in. Full chunks are
// made durable as they fill; nothing is visible until the matching commit.
// An abandoned writer (destroyed without commit) leaves only unreferenced
// chunks, which garbage collection removes.
class BodyWriter {
  public:
    virtual ~BodyWriter() = default;
    virtual Status write(std::string_view data) = 0;
    // Ends the body; afterwards only the commit call may use the writer.
    virtual Result<BodyDigest> finish() = 0;
};

// Streams one object's bytes (or a byte range of them), verified chunk by
// chunk. next() returns an empty string at the end.
class ObjectReader {
  public:
    virtual ~ObjectReader() = default;
    virtual const ObjectInfo& info() const = 0;
    virtual uint64_t offset() const = 0;  // first byte served
    virtual uint64_t length() const = 0;  // bytes served in all
    virtual Result<std::string> next() = 0;
};

struct ByteRange {
    uint64_t first = 0;
    uint64_t last = 0;  // inclusive, already clamped by the caller to size-1
};

struct ListQuery {
    std::string prefix;
    std::string delimiter;     // empty = no grouping
    std::string start_after;   // list keys strictly after this (marker / continuation)
    uint32_t max_keys = 1000;  // keys + common prefixes per page; 0 returns nothing
};

struct ListResult {
    std::vector<ObjectInfo> objects;           // in key order
    std::vector<std::string> common_prefixes;  // in order
    bool is_truncated = false;
    // Last key or common prefix returned: where the next page starts after.
    std::string next_start_after;
};

struct PartInfo {
    uint32_t part_number = 0;
    uint64_t size = 0;
    std::string etag;  // hex MD5 of the part, no quotes
    int64_t last_modified_ms = 0;
};

struct CompletedPart {
    uint32_t part_number = 0;
    std::string etag;  // as the client sent it; quotes stripped by the caller
};

struct UploadInfo {
    std::string key;
    std::string upload_id;
    int64_t initiated_ms = 0;
};

struct ListPartsResult {
    std::vector<PartInfo> parts;
    bool is_truncated = false;
    uint32_t next_part_number_marker = 0;
};

struct ListUploadsResult {
    std::vector<UploadInfo> uploads;
    std::vector<std::string> common_prefixes;
    bool is_truncated = false;
    std::string next_key_marker;
    std::string next_upload_id_marker;
};

class ObjectService {
  public:
    virtual ~ObjectService() = default;

    // Buckets. Name rules are the caller's (S3 layer) to check.
    virtual Status create_bucket(std::string_view bucket) = 0;
    virtual Status delete_bucket(std::string_view bucket) = 0;  // not_empty if objects or uploads
    virtual Result<BucketInfo> head_bucket(std::string_view bucket) = 0;
    virtual Result<std::vector<BucketInfo>> list_buckets() = 0;

    // Single-part PUT: begin_put, write the body, finish, then commit_put.
    virtual Result<std::unique_ptr<BodyWriter>> begin_put(std::string_view bucket,
                                                          std::string_view key) = 0;
    virtual Result<ObjectInfo> commit_put(std::unique_ptr<BodyWriter> body, std::string_view bucket,
                                          std::string_view key, const ObjectHeaders& headers,
                                          const WriteConditions& conditions) = 0;

    virtual Result<ObjectInfo> head_object(std::string_view bucket, std::string_view key) = 0;
    virtual Result<std::unique_ptr<ObjectReader>> get_object(std::string_view bucket,
                                                             std::string_view key,
                                                             std::optional<ByteRange> range) = 0;
    // Deleting an absent key succeeds (S3 semantics); an absent bucket fails.
    virtual Status delete_object(std::string_view bucket, std::string_view key) = 0;
    // Server-side copy; shares chunks (no data copied). `headers` replaces the
    // source's headers when set (x-amz-metadata-directive: REPLACE).
    virtual Result<ObjectInfo> copy_object(std::string_view src_bucket, std::string_view src_key,
                                           std::string_view dst_bucket, std::string_view dst_key,
                                           const std::optional<ObjectHeaders>& headers,
                                           const WriteConditions& conditions) = 0;
    virtual Result<ListResult> list_objects(std::string_view bucket, const ListQuery& query) = 0;

    // Multipart uploads.
    virtual Result<std::string> create_multipart(std::string_view bucket, std::string_view key,
                                                 const ObjectHeaders& headers) = 0;
    virtual Result<std::unique_ptr<BodyWriter>> begin_part(std::string_view bucket,
                                                           std::string_view key,
                                                           std::string_view upload_id,
                                                           uint32_t part_number) = 0;
    virtual Result<PartInfo> commit_part(std::unique_ptr<BodyWriter> body, std::string_view bucket,
                                         std::string_view key, std::string_view upload_id,
                                         uint32_t part_number) = 0;
    virtual Result<ObjectInfo> complete_multipart(std::string_view bucket, std::string_view key,
                                                  std::string_view upload_id,
                                                  const std::vector<CompletedPart>& parts,
                                                  const WriteConditions& conditions) = 0;
    virtual Status abort_multipart(std::string_view bucket, std::string_view key,
                                   std::string_view upload_id) = 0;
    virtual Result<ListPartsResult> list_parts(std::string_view bucket, std::string_view key,
                                               std::string_view upload_id,
                                               uint32_t part_number_marker, uint32_t max_parts) = 0;
    virtual Result<ListUploadsResult> list_uploads(std::string_view bucket, std::string_view prefix,
                                                   std::string_view delimiter,
                                                   std::string_view key_marker,
                                                   std::string_view upload_id_marker,
                                                   uint32_t max_uploads) = 0;
};

}  // namespace cleave::service
