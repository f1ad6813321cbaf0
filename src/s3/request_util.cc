#include "s3/request_util.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;

bool is_ipv4(std::string_view s) {
    int parts = 0;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t dot = s.find('.', pos);
        if (dot == std::string_view::npos) dot = s.size();
        std::string_view p = s.substr(pos, dot - pos);
        if (p.empty() || p.size() > 3) return false;
        if (!std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        ++parts;
        pos = dot + 1;
        if (dot == s.size()) break;
    }
    return parts == 4;
}

std::string_view strip_weak(std::string_view e) {
    e = trim(e);
    if (e.starts_with("W/")) e.remove_prefix(2);
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return e;
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return &v;
    return nullptr;
}

// Sub-resources of S3 that Cleave does not serve; a request naming one gets
// NotImplemented rather than being mistaken for a plain GET/PUT.
constexpr std::string_view kUnsupportedSubresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "versions",
    "website",
};

}  // namespace

S3Status validate_bucket_name(std::string_view n) {
    auto bad = [&](std::string_view why) {
        return s3_error(C::invalid_bucket_name,
                        fmt::format("The specified bucket is not valid: {}.", why));
    };
    if (n.size() < 3 || n.size() > 63) return bad("bucket names are 3 to 63 characters long");
    for (char c : n) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        if (!ok) return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(n.front()) || !alnum(n.back()))
        return bad("bucket names start and end with a letter or digit");
    if (n.find("..") != n.npos || n.find(".-") != n.npos || n.find("-.") != n.npos)
        return bad("adjacent periods or a period next to a hyphen are not allowed");
    if (is_ipv4(n)) return bad("bucket names must not look like an IP address");
    if (n.starts_with("xn--") || n.starts_with("sthree-") || n.ends_with("-s3alias") ||
        n.ends_with("--ol-s3"))
        return bad("reserved prefix or suffix");
    return S3Status::ok();
}

S3Result<Addressing> resolve_addressing(std::string_view host, std::string_view raw_path,
                                        const std::vector<std::string>& suffixes) {
    // Host without port (IPv6 literals "[::1]:9000" keep their brackets).
    std::string h = to_lower(trim(host));
    if (!h.empty() && h.front() == '[') {
        size_t close = h.find(']');
        if (close != std::string::npos) h = h.substr(0, close + 1);
    } else if (size_t colon = h.rfind(':'); colon != std::string::npos) {
        h = h.substr(0, colon);
    }
    if (!h.empty() && h.back() == '.') h.pop_back();

    Addressing a;
    bool exact = std::find(suffixes.begin(), suffixes.end(), h) != suffixes.end();
    if (!exact) {
        size_t best = 0;
        for (const auto& s : suffixes) {
            if (s.empty() || h.size() <= s.size() + 1) continue;
            if (h.ends_with(s) && h[h.size() - s.size() - 1] == '.' && s.size() > best) {
                best = s.size();
                a.bucket = h.substr(0, h.size() - s.size() - 1);
                a.virtual_host = true;
            }
        }
    }
    if (raw_path.empty() || raw_path.front() != '/')
        return s3_error(C::invalid_request, "The request path must start with '/'.");
    std::string_view rest = raw_path.substr(1);
    if (!a.virtual_host) {
        size_t slash = rest.find('/');
        std::string_view bucket_raw = rest.substr(0, slash);
        auto bucket = percent_decode(bucket_raw);
        if (!bucket) return s3_error(C::invalid_request, "Malformed percent-encoding in the path.");
        a.bucket = std::move(*bucket);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
    auto key = percent_decode(rest);
    if (!key) return s3_error(C::invalid_request, "Malformed percent-encoding in the path.");
    a.key = std::move(*key);
    if (a.bucket.empty() && !a.key.empty())
        return s3_error(C::invalid_request, "A key needs a bucket.");
    return a;
}

std::string_view operation_name(Operation op) {
    switch (op) {
        case Operation::list_buckets:
            return "ListBuckets";
        case Operation::create_bucket:
            return "CreateBucket";
        case Operation::delete_bucket:
            return "DeleteBucket";
        case Operation::head_bucket:
            return "HeadBucket";
        case Operation::get_bucket_location:
            return "GetBucketLocation";
        case Operation::get_bucket_versioning:
            return "GetBucketVersioning";
        case Operation::list_objects_v1:
            return "ListObjects";
        case Operation::list_objects_v2:
            return "ListObjectsV2";
        case Operation::list_multipart_uploads:
            return "ListMultipartUploads";
        case Operation::delete_objects:
            return "DeleteObjects";
        case Operation::put_object:
            return "PutObject";
        case Operation::copy_object:
            return "CopyObject";
        case Operation::get_object:
            return "GetObject";
        case Operation::head_object:
            return "HeadObject";
        case Operation::delete_object:
            return "DeleteObject";
        case Operation::create_multipart_upload:
            return "CreateMultipartUpload";
        case Operation::upload_part:
            return "UploadPart";
        case Operation::complete_multipart_upload:
            return "CompleteMultipartUpload";
        case Operation::abort_multipart_upload:
            return "AbortMultipartUpload";
        case Operation::list_parts:
            return "ListParts";
    }
    return "Unknown";
}

S3Result<Operation> identify_operation(std::string_view method, const Addressing& addr,
                                       const QueryParams& query, const HeaderList& headers) {
    auto has = [&](std::string_view name) { return find_param(query, name) != nullptr; };
    auto not_impl = [&](std::string_view what) {
        return s3_error(C::not_implemented, fmt::format("{} is not implemented by Cleave.", what));
    };
    for (std::string_view sub : kUnsupportedSubresources) {
        if (has(sub)) return not_impl(fmt::format("The '{}' sub-resource", sub));
    }
    const bool is_get = method == "GET", is_put = method == "PUT", is_head = method == "HEAD",
               is_delete = method == "DELETE", is_post = method == "POST";
    if (!is_get && !is_put && !is_head && !is_delete && !is_post)
        return s3_error(C::method_not_allowed);

    if (addr.bucket.empty()) {
        if (is_get) return Operation::list_buckets;
        return s3_error(C::method_not_allowed);
    }
    if (addr.key.empty()) {
        if (is_put) {
            if (has("versioning")) return not_impl("PutBucketVersioning");
            return Operation::create_bucket;
        }
        if (is_delete) return Operation::delete_bucket;
        if (is_head) return Operation::head_bucket;
        if (is_get) {
            if (has("location")) return Operation::get_bucket_location;
            if (has("versioning")) return Operation::get_bucket_versioning;
            if (has("uploads")) return Operation::list_multipart_uploads;
            if (const std::string* lt = find_param(query, "list-type")) {
                if (*lt == "2") return Operation::list_objects_v2;
                return s3_error(C::invalid_argument, "Invalid list-type.");
            }
            return Operation::list_objects_v1;
        }
        if (is_post && has("delete")) return Operation::delete_objects;
        return not_impl(fmt::format("{} on a bucket", method));
    }
    if (is_put) {
        bool copy = find_header(headers, "x-amz-copy-source") != nullptr;
        if (has("partNumber") || has("uploadId")) {
            if (copy) return not_impl("UploadPartCopy");
            return Operation::upload_part;
        }
        return copy ? Operation::copy_object : Operation::put_object;
    }
    if (is_get) {
        if (has("uploadId")) return Operation::list_parts;
        if (has("partNumber")) return not_impl("GetObject with partNumber");
        return Operation::get_object;
    }
    if (is_head) {
        if (has("partNumber")) return not_impl("HeadObject with partNumber");
        return Operation::head_object;
    }
    if (is_delete)
        return has("uploadId") ? Operation::abort_multipart_upload : Operation::delete_object;
    // POST on a key.
    if (has("uploads")) return Operation::create_multipart_upload;
    if (has("uploadId")) return Operation::complete_multipart_upload;
    return not_impl("POST on an object");
}

RangeSpec resolve_range(std::string_view header, uint64_t size) {
    RangeSpec r;
    header = trim(header);
    if (!header.starts_with("bytes=")) return r;
    std::string_view spec = trim(header.substr(6));
    if (spec.find(',') != std::string_view::npos) return r;  // multiple ranges: ignored
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return r;
    std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
    auto num = [](std::string_view s) -> std::optional<uint64_t> {
        if (s.empty() || s.size() > 19) return std::nullopt;
        uint64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
        return v;
    };
    if (a.empty()) {
        // Suffix range: the last n bytes.
        auto n = num(b);
        if (!n) return r;
        r.present = true;
        if (*n == 0 || size == 0) {
            r.satisfiable = false;
            return r;
        }
        uint64_t len = std::min(*n, size);
        r.first = size - len;
        r.last = size - 1;
        return r;
    }
    auto first = num(a);
    if (!first) return r;
    std::optional<uint64_t> last;
    if (!b.empty()) {
        last = num(b);
        if (!last || *last < *first) return r;  // invalid: ignored
    }
    r.present = true;
    if (*first >= size) {
        r.satisfiable = false;
        return r;
    }
    r.first = *first;
    r.last = last ? std::min(*last, size - 1) : size - 1;
    return r;
}

bool etag_list_matches(std::string_view list, std::string_view etag) {
    list = trim(list);
    if (list == "*") return true;
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string_view::npos) comma = list.size();
        std::string_view item = strip_weak(list.substr(pos, comma - pos));
        if (item == "*" || item == etag) return true;
        pos = comma + 1;
    }
    return false;
}

ConditionOutcome evaluate_conditions(const ConditionalHeaders& h, std::string_view etag,
                                     int64_t last_modified_ms) {
    // HTTP dates have second resolution.
    const int64_t lm_s =
        last_modified_ms >= 0 ? last_modified_ms / 1000 : (last_modified_ms - 999) / 1000;
    if (h.if_match) {
        if (!etag_list_matches(*h.if_match, etag)) return ConditionOutcome::precondition_failed;
    } else if (h.if_unmodified_since) {
        if (auto t = parse_http_date(*h.if_unmodified_since); t && lm_s > *t / 1000)
            return ConditionOutcome::precondition_failed;
    }
    if (h.if_none_match) {
        if (etag_list_matches(*h.if_none_match, etag)) return ConditionOutcome::not_modified;
    } else if (h.if_modified_since) {
        if (auto t = parse_http_date(*h.if_modified_since); t && lm_s <= *t / 1000)
            return ConditionOutcome::not_modified;
    }
    return ConditionOutcome::proceed;
}

S3Result<service::ObjectHeaders> object_headers_from_request(const HeaderList& headers) {
    service::ObjectHeaders out;
    size_t meta_bytes = 0;
    for (const auto& [name, value] : headers) {
        std::string n = to_lower(name);
        if (n == "content-type")
            out.content_type = value;
        else if (n == "content-encoding") {
            // aws-chunked is transport framing, not a stored encoding.
            std::string kept;
            size_t pos = 0;
            while (pos <= value.size()) {
                size_t comma = value.find(',', pos);
                if (comma == std::string::npos) comma = value.size();
                std::string_view item = trim(std::string_view(value).substr(pos, comma - pos));
                if (!item.empty() && !iequals(item, "aws-chunked")) {
                    if (!kept.empty()) kept += ",";
                    kept += item;
                }
                pos = comma + 1;
            }
            out.content_encoding = kept;
        } else if (n == "content-disposition")
            out.content_disposition = value;
        else if (n == "content-language")
            out.content_language = value;
        else if (n == "cache-control")
            out.cache_control = value;
        else if (n == "expires")
            out.expires = value;
        else if (n.starts_with("x-amz-meta-") && n.size() > 11) {
            std::string key = n.substr(11);
            meta_bytes += key.size() + value.size();
            out.user_metadata.emplace_back(std::move(key), value);
        }
    }
    if (meta_bytes > service::kMaxUserMetadataBytes)
        return s3_error(C::metadata_too_large,
                        fmt::format("Your metadata headers exceed the maximum allowed metadata "
                                    "size: {} bytes, at most {}.",
                                    meta_bytes, service::kMaxUserMetadataBytes));
    std::sort(out.user_metadata.begin(), out.user_metadata.end());
    return out;
}

S3Status validate_key(std::string_view key) {
    if (key.empty()) return s3_error(C::invalid_argument, "The object key must not be empty.");
    if (key.size() > service::kMaxKeyBytes)
        return s3_error(C::key_too_long, fmt::format("Your key is too long: {} bytes, at most {}.",
                                                     key.size(), service::kMaxKeyBytes));
    // Keys travel in XML (listings, errors), which can only carry UTF-8.
    if (!is_valid_utf8(key))
        return s3_error(C::invalid_argument, "The object key is not valid UTF-8.");
    return S3Status::ok();
}

std::string encode_continuation_token(std::string_view start_after) {
    return base64_encode(start_after);
}

std::optional<std::string> decode_continuation_token(std::string_view token) {
    std::string out;
    if (!base64_decode(token, &out)) return std::nullopt;
    return out;
}

std::optional<int64_t> parse_int(std::string_view s, int64_t min, int64_t max) {
    s = trim(s);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    if (v < min || v > max) return std::nullopt;
    return v;
}

}  // namespace cleave::s3
