#pragma once
// S3's XML: parsing of request bodies (pugixml) and rendering of responses.
// Parsers answer MalformedXML for anything that is not the expected document;
// renderers escape every value (s3/errors.h xml_escape) and, when the client
// asked for encoding-type=url, percent-encode keys and prefixes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "s3/errors.h"
#include "service/object_service.h"

namespace cleave::s3 {

inline constexpr size_t kMaxDeleteObjects = 1000;

// <CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>...</...>
// ETags are returned without quotes. MalformedXML when a part lacks a number
// or ETag, or when there are no parts.
S3Result<std::vector<service::CompletedPart>> parse_complete_multipart(std::string_view body);

struct DeleteObjectsRequest {
    bool quiet = false;
    std::vector<std::string> keys;
};
// <Delete><Quiet/><Object><Key/>[<VersionId/>]</Object>...</Delete>, 1..1000
// objects.
S3Result<DeleteObjectsRequest> parse_delete_objects(std::string_view body);

// <CreateBucketConfiguration><LocationConstraint/></...>: returns the location
// (empty when the body is empty or has none). Tolerated, not enforced.
S3Result<std::string> parse_create_bucket_configuration(std::string_view body);

// ---- Rendering ----

struct Owner {
    std::string id = "cleave";
    std::string display_name = "cleave";
};

std::string render_list_buckets(const std::vector<service::BucketInfo>& buckets,
                                const Owner& owner);

struct ListObjectsParams {
    std::string bucket;
    std::string prefix;
    std::string delimiter;
    uint32_t max_keys = 1000;
    bool url_encode = false;   // encoding-type=url
    bool fetch_owner = false;  // V2 only; V1 always lists owners
    // V1:
    std::string marker;
    // V2:
    std::string continuation_token;  // as the client sent it
    std::string start_after;
};

// `next_marker` (V1) / `next_continuation_token` (V2) are set when truncated.
std::string render_list_objects_v1(const ListObjectsParams& params,
                                   const service::ListResult& result, std::string_view next_marker,
                                   const Owner& owner);
std::string render_list_objects_v2(const ListObjectsParams& params,
                                   const service::ListResult& result,
                                   std::string_view next_continuation_token, const Owner& owner);

std::string render_initiate_multipart(std::string_view bucket, std::string_view key,
                                      std::string_view upload_id);
std::string render_complete_multipart(std::string_view location, std::string_view bucket,
                                      std::string_view key, std::string_view etag);

struct ListPartsParams {
    std::string bucket;
    std::string key;
    std::string upload_id;
    uint32_t part_number_marker = 0;
    uint32_t max_parts = 1000;
};
std::string render_list_parts(const ListPartsParams& params, const service::ListPartsResult& result,
                              const Owner& owner);

struct ListUploadsParams {
    std::string bucket;
    std::string prefix;
    std::string delimiter;
    std::string key_marker;
    std::string upload_id_marker;
    uint32_t max_uploads = 1000;
    bool url_encode = false;
};
std::string render_list_uploads(const ListUploadsParams& params,
                                const service::ListUploadsResult& result, const Owner& owner);

std::string render_copy_object_result(std::string_view etag, int64_t last_modified_ms);

struct DeleteError {
    std::string key;
    S3Error error;
};
std::string render_delete_result(const std::vector<std::string>& deleted,
                                 const std::vector<DeleteError>& errors);

// us-east-1 is rendered as an empty constraint, as S3 does.
std::string render_location_constraint(std::string_view region);

// Quotes an ETag for headers and XML: "\"<etag>\"".
std::string quote_etag(std::string_view etag);
// Strips one pair of surrounding quotes (also the &quot; form some clients send).
std::string unquote_etag(std::string_view etag);

}  // namespace cleave::s3
