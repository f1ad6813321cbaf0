// The S3 operations: one handler per operation, each turning a Request into
// ObjectService calls (run on the blocking pool) and an S3 response.

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>

#include "common/metrics.h"
#include "s3/server_internal.h"
#include "s3/xml.h"

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;
constexpr std::string_view kAdminPrefix = "/_cleave/admin/";
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The headers GET and HEAD send about an object.
template <typename Body>
void set_object_headers(http::response<Body>& res, const service::ObjectInfo& info,
                        const QueryParams& query) {
    const auto& h = info.headers;
    res.set(http::field::etag, quote_etag(info.etag));
    res.set(http::field::last_modified, format_http_date(info.last_modified_ms));
    res.set(http::field::accept_ranges, "bytes");
    res.set(http::field::content_type,
            h.content_type.empty() ? std::string("binary/octet-stream") : h.content_type);
    if (!h.content_encoding.empty()) res.set(http::field::content_encoding, h.content_encoding);
    if (!h.content_disposition.empty())
        res.set(http::field::content_disposition, h.content_disposition);
    if (!h.content_language.empty()) res.set(http::field::content_language, h.content_language);
    if (!h.cache_control.empty()) res.set(http::field::cache_control, h.cache_control);
    if (!h.expires.empty()) res.set(http::field::expires, h.expires);
    for (const auto& [k, v] : h.user_metadata) res.set("x-amz-meta-" + k, v);
    if (info.parts_count > 0) res.set("x-amz-mp-parts-count", std::to_string(info.parts_count));
    // response-* query parameters override what is stored (S3 GetObject).
    static constexpr std::pair<std::string_view, http::field> kOverrides[] = {
        {"response-content-type", http::field::content_type},
        {"response-content-language", http::field::content_language},
        {"response-expires", http::field::expires},
        {"response-cache-control", http::field::cache_control},
        {"response-content-disposition", http::field::content_disposition},
        {"response-content-encoding", http::field::content_encoding},
    };
    for (const auto& [param, field] : kOverrides) {
        if (const std::string* v = find_param(query, param)) res.set(field, *v);
    }
}

ConditionalHeaders conditional_headers(const Request& req, std::string_view prefix) {
    ConditionalHeaders c;
    auto get = [&](std::string_view name) -> std::optional<std::string> {
        const std::string* v = req.header(std::string(prefix) + std::string(name));
        return v ? std::optional<std::string>(*v) : std::nullopt;
    };
    c.if_match = get("if-match");
    c.if_none_match = get("if-none-match");
    c.if_modified_since = get("if-modified-since");
    c.if_unmodified_since = get("if-unmodified-since");
    return c;
}

// Write conditions of PUT / Complete / Copy: If-None-Match: * and If-Match.
S3Result<service::WriteConditions> write_conditions(const Request& req) {
    service::WriteConditions c;
    if (const std::string* inm = req.header("if-none-match")) {
        if (trim(*inm) != "*")
            return s3_error(C::not_implemented,
                            "If-None-Match on a write supports only the value '*'.");
        c.if_none_match_star = true;
    }
    if (const std::string* im = req.header("if-match")) {
        std::string e = unquote_etag(*im);
        if (e == "*" || e.empty())
            return s3_error(C::not_implemented, "If-Match on a write needs one ETag.");
        c.if_match_etag = e;
    }
    return c;
}

}  // namespace

asio::awaitable<void> Connection::dispatch(Request& req) {
    // Operational endpoints outside S3's namespace (no bucket name starts
    // with '_'), readable without credentials like any scrape target:
    // Prometheus metrics and a liveness check.
    if (req.method == "GET" &&
        (req.raw_path == "/_cleave/metrics" || req.raw_path == "/_cleave/health")) {
        const bool health = req.raw_path == "/_cleave/health";
        const bool ok = !health || !server_.config.healthy || server_.config.healthy();
        StringResponse res =
            make_response(ok ? http::status::ok : http::status::service_unavailable, req);
        res.set(http::field::content_type, "text/plain; version=0.0.4");
        std::string body_ =
            health ? std::string(ok ? "ok\n" : "unavailable\n") : metrics::render_prometheus();
        res.body() = std::move(body_);
        co_await send(res);
        co_return;
    }
    if (req.raw_path.rfind(kAdminPrefix, 0) == 0) co_return co_await admin(req);
    auto addr = resolve_addressing(req.host, req.raw_path, server_.suffixes);
    if (!addr) {
        const S3Error err_ = addr.error();
        co_await send_error(req, err_);
        co_return;
    }
    req.addr = std::move(addr.value());
    if (req.addr.virtual_host) req.resource = "/" + req.addr.bucket + req.resource;

    // Authenticate before anything else touches the service.
    SigV4Request sreq{req.method, req.raw_path, req.query, req.headers,
                      req.addr.virtual_host ? req.addr.bucket : std::string()};
    auto auth = verify_request(
        sreq, server_.credentials,
        {.now_ms = server_.now_ms(), .max_skew_ms = server_.config.max_clock_skew_ms});
    if (!auth) {
        const S3Error err_ = auth.error();
        co_await send_error(req, err_);
        co_return;
    }
    req.auth = std::move(auth.value());

    auto op = identify_operation(req.method, req.addr, req.query, req.headers);
    if (!op) {
        const S3Error err_ = op.error();
        co_await send_error(req, err_);
        co_return;
    }
    req.op = op.value();
    server_.log->debug("{} {} {} {}", req.request_id, operation_name(req.op), req.addr.bucket,
                       req.addr.key);
    if (!req.addr.key.empty()) {
        if (S3Status st = validate_key(req.addr.key); !st) {
            const S3Error err_ = st.error();
            co_await send_error(req, err_);
            co_return;
        }
    }

    switch (req.op) {
        case Operation::list_buckets:
            co_return co_await list_buckets(req);
        case Operation::create_bucket:
            co_return co_await create_bucket(req);
        case Operation::delete_bucket:
            co_return co_await delete_bucket(req);
        case Operation::head_bucket:
            co_return co_await head_bucket(req);
        case Operation::get_bucket_location:
            co_return co_await get_bucket_location(req);
        case Operation::get_bucket_versioning:
            co_return co_await get_bucket_versioning(req);
        case Operation::list_objects_v1:
            co_return co_await list_objects(req, false);
        case Operation::list_objects_v2:
            co_return co_await list_objects(req, true);
        case Operation::list_multipart_uploads:
            co_return co_await list_multipart_uploads(req);
        case Operation::delete_objects:
            co_return co_await delete_objects(req);
        case Operation::put_object:
            co_return co_await put_object(req);
        case Operation::copy_object:
            co_return co_await copy_object(req);
        case Operation::get_object:
        case Operation::head_object:
            co_return co_await get_object(req);
        case Operation::delete_object:
            co_return co_await delete_object(req);
        case Operation::create_multipart_upload:
            co_return co_await create_multipart_upload(req);
        case Operation::upload_part:
            co_return co_await upload_part(req);
        case Operation::complete_multipart_upload:
            co_return co_await complete_multipart_upload(req);
        case Operation::abort_multipart_upload:
            co_return co_await abort_multipart_upload(req);
        case Operation::list_parts:
            co_return co_await list_parts(req);
    }
    {
        const S3Error err_ = s3_error(C::not_implemented);
        co_await send_error(req, err_);
    }
}

// ------------------------------------------------------------------ Admin ----

asio::awaitable<void> Connection::admin(Request& req) {
    SigV4Request sreq{req.method, req.raw_path, req.query, req.headers, std::string()};
    auto auth = verify_request(
        sreq, server_.credentials,
        {.now_ms = server_.now_ms(), .max_skew_ms = server_.config.max_clock_skew_ms});
    if (!auth) {
        const S3Error err_ = auth.error();
        co_await send_error(req, err_);
        co_return;
    }
    if (!server_.config.admin) {
        const S3Error err_ = s3_error(C::not_implemented, "This server has no admin interface.");
        co_await send_error(req, err_);
        co_return;
    }
    const std::string path = req.raw_path.substr(std::string_view(kAdminPrefix).size());
    auto r =
        co_await blocking([&] { return server_.config.admin(req.method, path, req.query); }, true);
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    StringResponse res = make_response(http::status::ok, req);
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(*r);
    co_await send(res);
}

// ---------------------------------------------------------------- Buckets ----

asio::awaitable<void> Connection::list_buckets(Request& req) {
    auto r = co_await blocking([&] { return server_.service.list_buckets(); });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_list_buckets(*r, Owner{});
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::create_bucket(Request& req) {
    if (S3Status st = validate_bucket_name(req.addr.bucket); !st) {
        const S3Error err_ = st.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto body = co_await read_small_body(req, 64 * 1024);
    if (!body) {
        const S3Error err_ = body.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto location = parse_create_bucket_configuration(*body);
    if (!location) {
        const S3Error err_ = location.error();
        co_await send_error(req, err_);
        co_return;
    }
    Status st = co_await blocking([&] { return server_.service.create_bucket(req.addr.bucket); });
    if (!st.is_ok()) {
        const S3Error err_ = s3_error_from_status(st);
        co_await send_error(req, err_);
        co_return;
    }
    StringResponse res = make_response(http::status::ok, req);
    res.set(http::field::location, "/" + req.addr.bucket);
    co_await send(res);
}

asio::awaitable<void> Connection::delete_bucket(Request& req) {
    Status st = co_await blocking([&] { return server_.service.delete_bucket(req.addr.bucket); });
    if (!st.is_ok()) {
        const S3Error err_ = s3_error_from_status(st);
        co_await send_error(req, err_);
        co_return;
    }
    co_await send_empty(req, http::status::no_content);
}

asio::awaitable<void> Connection::head_bucket(Request& req) {
    auto r = co_await blocking([&] { return server_.service.head_bucket(req.addr.bucket); });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    StringResponse res = make_response(http::status::ok, req);
    res.set("x-amz-bucket-region", server_.config.region);
    co_await send(res);
}

asio::awaitable<void> Connection::get_bucket_location(Request& req) {
    auto r = co_await blocking([&] { return server_.service.head_bucket(req.addr.bucket); });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_location_constraint(server_.config.region);
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::get_bucket_versioning(Request& req) {
    auto r = co_await blocking([&] { return server_.service.head_bucket(req.addr.bucket); });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    // Versioning has never been enabled: an empty configuration (S3's answer
    // for such a bucket).
    {
        const std::string xml_ =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration "
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::list_objects(Request& req, bool v2) {
    ListObjectsParams p;
    p.bucket = req.addr.bucket;
    if (const std::string* v = req.param("prefix")) p.prefix = *v;
    if (const std::string* v = req.param("delimiter")) p.delimiter = *v;
    if (const std::string* v = req.param("max-keys")) {
        auto n = parse_int(*v, 0, INT32_MAX);
        if (!n) {
            const S3Error err_ = s3_error(
                C::invalid_argument, "Provided max-keys not an integer or within integer range");
            co_await send_error(req, err_);
            co_return;
        }
        p.max_keys = static_cast<uint32_t>(std::min<int64_t>(*n, 1000));
    }
    if (const std::string* v = req.param("encoding-type")) {
        if (*v != "url") {
            const S3Error err_ =
                s3_error(C::invalid_argument, "Invalid Encoding Method specified in Request");
            co_await send_error(req, err_);
            co_return;
        }
        p.url_encode = true;
    }
    std::string start;
    if (v2) {
        if (const std::string* v = req.param("fetch-owner")) p.fetch_owner = *v == "true";
        if (const std::string* v = req.param("start-after")) p.start_after = *v;
        start = p.start_after;
        if (const std::string* v = req.param("continuation-token")) {
            auto key = decode_continuation_token(*v);
            if (!key || v->empty()) {
                const S3Error err_ =
                    s3_error(C::invalid_argument, "The continuation token provided is incorrect");
                co_await send_error(req, err_);
                co_return;
            }
            p.continuation_token = *v;
            start = std::max(start, *key);
        }
    } else {
        if (const std::string* v = req.param("marker")) p.marker = *v;
        start = p.marker;
    }
    service::ListQuery q;
    q.prefix = p.prefix;
    q.delimiter = p.delimiter;
    q.start_after = start;
    q.max_keys = p.max_keys;
    auto r = co_await blocking([&] { return server_.service.list_objects(req.addr.bucket, q); });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    std::string next = r->is_truncated ? r->next_start_after : std::string();
    if (r->is_truncated && next.empty()) {
        // The service must say where the next page starts.
        if (!r->objects.empty()) next = r->objects.back().key;
        if (!r->common_prefixes.empty()) next = std::max(next, r->common_prefixes.back());
    }
    if (v2) {
        {
            const std::string xml_ =
                render_list_objects_v2(p, *r, encode_continuation_token(next), Owner{});
            co_await send_xml(req, http::status::ok, xml_);
        }
    } else {
        {
            const std::string xml_ = render_list_objects_v1(p, *r, next, Owner{});
            co_await send_xml(req, http::status::ok, xml_);
        }
    }
}

asio::awaitable<void> Connection::list_multipart_uploads(Request& req) {
    ListUploadsParams p;
    p.bucket = req.addr.bucket;
    if (const std::string* v = req.param("prefix")) p.prefix = *v;
    if (const std::string* v = req.param("delimiter")) p.delimiter = *v;
    if (const std::string* v = req.param("key-marker")) p.key_marker = *v;
    if (const std::string* v = req.param("upload-id-marker")) p.upload_id_marker = *v;
    if (const std::string* v = req.param("max-uploads")) {
        auto n = parse_int(*v, 0, INT32_MAX);
        if (!n) {
            const S3Error err_ =
                s3_error(C::invalid_argument, "Provided max-uploads not an integer");
            co_await send_error(req, err_);
            co_return;
        }
        p.max_uploads = static_cast<uint32_t>(std::min<int64_t>(*n, 1000));
    }
    if (const std::string* v = req.param("encoding-type")) {
        if (*v != "url") {
            const S3Error err_ =
                s3_error(C::invalid_argument, "Invalid Encoding Method specified in Request");
            co_await send_error(req, err_);
            co_return;
        }
        p.url_encode = true;
    }
    auto r = co_await blocking([&] {
        return server_.service.list_uploads(p.bucket, p.prefix, p.delimiter, p.key_marker,
                                            p.upload_id_marker, p.max_uploads);
    });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_list_uploads(p, *r, Owner{});
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::delete_objects(Request& req) {
    auto body = co_await read_small_body(req, server_.config.max_xml_body_bytes);
    if (!body) {
        const S3Error err_ = body.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto parsed = parse_delete_objects(*body);
    if (!parsed) {
        const S3Error err_ = parsed.error();
        co_await send_error(req, err_);
        co_return;
    }
    std::vector<std::string> deleted;
    std::vector<DeleteError> errors;
    for (const auto& key : parsed->keys) {
        if (S3Status st = validate_key(key); !st) {
            errors.push_back({key, st.error()});
            continue;
        }
        Status st =
            co_await blocking([&] { return server_.service.delete_object(req.addr.bucket, key); });
        if (st.code() == Errc::no_such_bucket) {
            {
                const S3Error err_ = s3_error_from_status(st);
                co_await send_error(req, err_);
                co_return;
            }
        }
        if (!st.is_ok()) {
            errors.push_back({key, s3_error_from_status(st)});
        } else if (!parsed->quiet) {
            deleted.push_back(key);
        }
    }
    {
        const std::string xml_ = render_delete_result(deleted, errors);
        co_await send_xml(req, http::status::ok, xml_);
    }
}

// ---------------------------------------------------------------- Objects ----

S3Result<std::optional<uint64_t>> Connection::declared_body_size(const Request& req) const {
    if (is_streaming(req.auth.payload_mode)) {
        if (const std::string* d = req.header("x-amz-decoded-content-length")) {
            auto v = parse_int(*d, 0, INT64_MAX);
            if (!v) return s3_error(C::invalid_argument, "Invalid x-amz-decoded-content-length.");
            return std::optional<uint64_t>(static_cast<uint64_t>(*v));
        }
    }
    // The encoded length bounds the decoded one.
    if (auto len = parser_->content_length()) return std::optional<uint64_t>(*len);
    if (parser_->chunked()) return std::optional<uint64_t>();  // limits apply while reading
    return s3_error(C::missing_content_length);
}

asio::awaitable<S3Result<service::BodyDigest>> Connection::stream_body_into(
    const Request& req, service::BodyWriter& writer) {
    while (true) {
        auto piece = co_await read_body_piece();
        if (!piece) co_return piece.error();
        if (piece->empty()) break;
        Status st = co_await blocking([&] { return writer.write(*piece); });
        if (!st.is_ok()) co_return s3_error_from_status(st);
    }
    auto digest = co_await blocking([&] { return writer.finish(); });
    if (!digest) co_return s3_error_from_status(digest.status());
    if (S3Status st = check_digests(req, *digest); !st) co_return st.error();
    co_return std::move(digest.value());
}

asio::awaitable<void> Connection::put_object(Request& req) {
    auto size = declared_body_size(req);
    if (!size) {
        const S3Error err_ = size.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto headers = object_headers_from_request(req.headers);
    if (!headers) {
        const S3Error err_ = headers.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto conditions = write_conditions(req);
    if (!conditions) {
        const S3Error err_ = conditions.error();
        co_await send_error(req, err_);
        co_return;
    }
    if (S3Status st = begin_body(req, service::kMaxPutBytes, true, C::entity_too_large); !st) {
        const S3Error err_ = st.error();
        co_await send_error(req, err_);
        co_return;
    }

    const BeginBody begin = [&] {
        return server_.service.begin_put(req.addr.bucket, req.addr.key);
    };
    const CommitBody commit =
        [&](std::unique_ptr<service::BodyWriter> writer) -> Result<std::string> {
        CLEAVE_ASSIGN_OR_RETURN(
            auto info, server_.service.commit_put(std::move(writer), req.addr.bucket, req.addr.key,
                                                  *headers, *conditions));
        return info.etag;
    };
    co_await receive_body(req, *size, begin, commit);
}

asio::awaitable<void> Connection::copy_object(Request& req) {
    // x-amz-copy-source: "[/]bucket/key[?versionId=...]", URL-encoded.
    std::string_view src_raw = *req.header("x-amz-copy-source");
    src_raw = trim(src_raw);
    if (size_t q = src_raw.find('?'); q != std::string_view::npos) src_raw = src_raw.substr(0, q);
    if (src_raw.starts_with('/')) src_raw.remove_prefix(1);
    size_t slash = src_raw.find('/');
    auto src_bucket = percent_decode(src_raw.substr(0, slash));
    auto src_key = slash == std::string_view::npos ? std::optional<std::string>()
                                                   : percent_decode(src_raw.substr(slash + 1));
    if (!src_bucket || !src_key || src_bucket->empty() || src_key->empty()) {
        const S3Error err_ = s3_error(C::invalid_argument,
                                      "Copy Source must mention the source bucket and key: "
                                      "sourcebucket/sourcekey");
        co_await send_error(req, err_);
        co_return;
    }
    if (S3Status st = validate_key(*src_key); !st) {
        const S3Error err_ = st.error();
        co_await send_error(req, err_);
        co_return;
    }

    std::optional<service::ObjectHeaders> new_headers;
    std::string directive = "COPY";
    if (const std::string* d = req.header("x-amz-metadata-directive"))
        directive = std::string(trim(*d));
    if (directive == "REPLACE") {
        auto h = object_headers_from_request(req.headers);
        if (!h) {
            const S3Error err_ = h.error();
            co_await send_error(req, err_);
            co_return;
        }
        new_headers = std::move(h.value());
    } else if (directive != "COPY") {
        {
            const S3Error err_ = s3_error(C::invalid_argument, "Unknown metadata directive.");
            co_await send_error(req, err_);
            co_return;
        }
    }
    if (!new_headers && *src_bucket == req.addr.bucket && *src_key == req.addr.key) {
        {
            const S3Error err_ =
                s3_error(C::invalid_request,
                         "This copy request is illegal because it is trying to copy an object "
                         "to itself without changing the object's metadata, storage class, "
                         "website redirect location or encryption attributes.");
            co_await send_error(req, err_);
            co_return;
        }
    }
    auto conditions = write_conditions(req);
    if (!conditions) {
        const S3Error err_ = conditions.error();
        co_await send_error(req, err_);
        co_return;
    }

    ConditionalHeaders src_cond = conditional_headers(req, "x-amz-copy-source-");
    if (src_cond.if_match || src_cond.if_none_match || src_cond.if_modified_since ||
        src_cond.if_unmodified_since) {
        auto src =
            co_await blocking([&] { return server_.service.head_object(*src_bucket, *src_key); });
        if (!src) {
            const S3Error err_ = s3_error_from_status(src.status());
            co_await send_error(req, err_);
            co_return;
        }
        if (evaluate_conditions(src_cond, src->etag, src->last_modified_ms) !=
            ConditionOutcome::proceed) {
            const S3Error err_ = s3_error(C::precondition_failed);
            co_await send_error(req, err_);
            co_return;
        }
    }
    auto info = co_await blocking([&] {
        return server_.service.copy_object(*src_bucket, *src_key, req.addr.bucket, req.addr.key,
                                           new_headers, *conditions);
    });
    if (!info) {
        const S3Error err_ = s3_error_from_status(info.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_copy_object_result(info->etag, info->last_modified_ms);
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::get_object(Request& req) {
    const std::string* range_header = req.header("range");
    ConditionalHeaders cond = conditional_headers(req, "");
    // Metadata first: conditions and the range depend on it. If the object
    // is replaced between this and the read, the read's own metadata wins and
    // the decision is taken again (bounded).
    std::unique_ptr<service::ObjectReader> reader;
    service::ObjectInfo info;
    RangeSpec range;
    for (int attempt = 0;; ++attempt) {
        auto head = co_await blocking(
            [&] { return server_.service.head_object(req.addr.bucket, req.addr.key); });
        if (!head) {
            const S3Error err_ = s3_error_from_status(head.status());
            co_await send_error(req, err_);
            co_return;
        }
        info = std::move(head.value());
        ConditionOutcome outcome = evaluate_conditions(cond, info.etag, info.last_modified_ms);
        if (outcome == ConditionOutcome::precondition_failed) {
            const S3Error err_ = s3_error(C::precondition_failed);
            co_await send_error(req, err_);
            co_return;
        }
        if (outcome == ConditionOutcome::not_modified) {
            http::response<http::empty_body> res{http::status::not_modified, 11};
            add_common_headers(res, req);
            res.set(http::field::etag, quote_etag(info.etag));
            res.set(http::field::last_modified, format_http_date(info.last_modified_ms));
            stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
            auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
            if (ec) broken_ = true;
            co_return;
        }
        range = range_header ? resolve_range(*range_header, info.size) : RangeSpec{};
        if (range.present && !range.satisfiable) {
            StringResponse res = make_response(http::status::range_not_satisfiable, req);
            res.set(http::field::content_range, fmt::format("bytes */{}", info.size));
            if (!req.is_head) {
                res.set(http::field::content_type, "application/xml");
                res.body() =
                    render_error_xml(s3_error(C::invalid_range), req.resource, req.request_id);
            }
            co_return co_await send(res);
        }
        if (req.is_head) break;
        std::optional<service::ByteRange> br;
        if (range.present) br = service::ByteRange{range.first, range.last};
        auto r = co_await blocking(
            [&] { return server_.service.get_object(req.addr.bucket, req.addr.key, br); });
        if (!r) {
            if (r.status().code() == Errc::invalid_range && attempt < 3) continue;  // shrank
            {
                const S3Error err_ = s3_error_from_status(r.status());
                co_await send_error(req, err_);
                co_return;
            }
        }
        reader = std::move(r.value());
        if (reader->info().etag == info.etag || attempt >= 3) {
            info = reader->info();
            break;
        }
    }

    const bool partial = range.present;
    const uint64_t length =
        req.is_head ? (partial ? range.last - range.first + 1 : info.size) : reader->length();
    http::response<http::buffer_body> res{
        partial ? http::status::partial_content : http::status::ok, 11};
    add_common_headers(res, req);
    set_object_headers(res, info, req.query);
    if (partial) {
        uint64_t first = req.is_head ? range.first : reader->offset();
        res.set(http::field::content_range,
                fmt::format("bytes {}-{}/{}", first, first + length - 1, info.size));
    }
    res.content_length(length);
    if (req.is_head) {
        // A HEAD response carries the length but no body.
        res.body().data = nullptr;
        res.body().more = false;
        http::response_serializer<http::buffer_body> sr{res};
        stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
        auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
        if (ec) broken_ = true;
        co_return;
    }
    // The first piece is read before the headers go out, so a chunk that
    // fails verification at the start (the common case: one-chunk objects)
    // is an error status, not a 200 followed by a cut connection.
    std::optional<Result<std::string>> first_piece;
    if (length > 0) {
        first_piece = co_await blocking([&] { return reader->next(); });
        if (!first_piece->is_ok()) {
            server_.log->error("{} GET {}/{}: {}", req.request_id, req.addr.bucket, req.addr.key,
                               first_piece->status().to_string());
            const S3Error err_ = s3_error_from_status(first_piece->status());
            co_await send_error(req, err_);
            co_return;
        }
    }
    res.body().data = nullptr;
    res.body().more = true;
    http::response_serializer<http::buffer_body> sr{res};
    stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
    auto [hec, hn] = co_await http::async_write_header(stream_, sr, kTuple);
    if (hec) {
        broken_ = true;
        co_return;
    }
    uint64_t sent = 0;
    while (sent < length) {
        Result<std::string> piece = Status::internal("no piece");
        if (first_piece) {
            piece = std::move(*first_piece);
            first_piece.reset();
        } else {
            piece = co_await blocking([&] { return reader->next(); });
        }
        if (!piece || piece->empty()) {
            // Headers are gone: the only honest signal left is to cut the
            // connection, so the client sees a short body.
            server_.log->error(
                "{} GET {}/{}: stream failed after {} of {} bytes: {}", req.request_id,
                req.addr.bucket, req.addr.key, sent, length,
                piece ? std::string("reader ended early") : piece.status().to_string());
            broken_ = true;
            co_return;
        }
        std::string data = std::move(piece.value());
        if (data.size() > length - sent) data.resize(length - sent);
        res.body().data = data.data();
        res.body().size = data.size();
        res.body().more = true;
        stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
        auto [ec, n] = co_await http::async_write(stream_, sr, kTuple);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            broken_ = true;
            co_return;
        }
        sent += data.size();
    }
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, n] = co_await http::async_write(stream_, sr, kTuple);
    if (ec) broken_ = true;
}

asio::awaitable<void> Connection::delete_object(Request& req) {
    Status st = co_await blocking(
        [&] { return server_.service.delete_object(req.addr.bucket, req.addr.key); });
    if (!st.is_ok()) {
        const S3Error err_ = s3_error_from_status(st);
        co_await send_error(req, err_);
        co_return;
    }
    co_await send_empty(req, http::status::no_content);
}

// -------------------------------------------------------------- Multipart ----

asio::awaitable<void> Connection::create_multipart_upload(Request& req) {
    auto headers = object_headers_from_request(req.headers);
    if (!headers) {
        const S3Error err_ = headers.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto id = co_await blocking(
        [&] { return server_.service.create_multipart(req.addr.bucket, req.addr.key, *headers); });
    if (!id) {
        const S3Error err_ = s3_error_from_status(id.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_initiate_multipart(req.addr.bucket, req.addr.key, *id);
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::upload_part(Request& req) {
    const std::string* num = req.param("partNumber");
    const std::string* upload_id = req.param("uploadId");
    if (num == nullptr || upload_id == nullptr || upload_id->empty()) {
        const S3Error err_ =
            s3_error(C::invalid_request, "UploadPart needs partNumber and uploadId.");
        co_await send_error(req, err_);
        co_return;
    }
    auto part = parse_int(*num, 1, service::kMaxPartNumber);
    if (!part) {
        const S3Error err_ = s3_error(
            C::invalid_argument, "Part number must be an integer between 1 and 10000, inclusive");
        co_await send_error(req, err_);
        co_return;
    }
    auto size = declared_body_size(req);
    if (!size) {
        const S3Error err_ = size.error();
        co_await send_error(req, err_);
        co_return;
    }
    if (S3Status st = begin_body(req, service::kMaxPartBytes, true, C::entity_too_large); !st) {
        const S3Error err_ = st.error();
        co_await send_error(req, err_);
        co_return;
    }
    const auto part_number = static_cast<uint32_t>(*part);
    const BeginBody begin = [&] {
        return server_.service.begin_part(req.addr.bucket, req.addr.key, *upload_id, part_number);
    };
    const CommitBody commit =
        [&](std::unique_ptr<service::BodyWriter> writer) -> Result<std::string> {
        CLEAVE_ASSIGN_OR_RETURN(
            auto info, server_.service.commit_part(std::move(writer), req.addr.bucket, req.addr.key,
                                                   *upload_id, part_number));
        return info.etag;
    };
    co_await receive_body(req, *size, begin, commit);
}

asio::awaitable<S3Result<std::string>> Connection::store_whole_body(const Request& req,
                                                                    const BeginBody& begin,
                                                                    const CommitBody& commit) {
    std::string body;
    while (true) {
        auto piece = co_await read_body_piece();
        if (!piece) co_return piece.error();
        if (piece->empty()) break;
        body += *piece;
    }
    co_return co_await blocking([&]() -> S3Result<std::string> {
        auto writer = begin();
        if (!writer) return s3_error_from_status(writer.status());
        if (!body.empty()) {
            if (Status st = (*writer)->write(body); !st.is_ok()) return s3_error_from_status(st);
        }
        auto digest = (*writer)->finish();
        if (!digest) return s3_error_from_status(digest.status());
        if (S3Status st = check_digests(req, *digest); !st) return st.error();
        auto committed = commit(std::move(writer.value()));
        if (!committed) return s3_error_from_status(committed.status());
        return std::move(committed.value());
    });
}

asio::awaitable<S3Result<std::string>> Connection::store_streamed_body(const Request& req,
                                                                       const BeginBody& begin,
                                                                       const CommitBody& commit) {
    auto writer = co_await blocking([&] { return begin(); });
    if (!writer) co_return s3_error_from_status(writer.status());
    auto digest = co_await stream_body_into(req, **writer);
    if (!digest) co_return digest.error();
    auto etag = co_await blocking([&] { return commit(std::move(writer.value())); });
    if (!etag) co_return s3_error_from_status(etag.status());
    co_return std::move(etag.value());
}

asio::awaitable<void> Connection::receive_body(Request& req, std::optional<uint64_t> size,
                                               const BeginBody& begin, const CommitBody& commit) {
    // Each trip to the blocking pool is two thread switches; a small PUT
    // streamed took four (begin, write, finish, commit). Read it whole on
    // this thread instead and make one.
    const bool whole = size && *size <= kWholeBodyBytes;
    asio::awaitable<S3Result<std::string>> store =
        whole ? store_whole_body(req, begin, commit) : store_streamed_body(req, begin, commit);
    auto etag = co_await std::move(store);
    if (!etag) {
        const S3Error err_ = etag.error();
        co_await send_error(req, err_);
        co_return;
    }
    StringResponse res = make_response(http::status::ok, req);
    res.set(http::field::etag, quote_etag(*etag));
    co_await send(res);
}

asio::awaitable<void> Connection::complete_multipart_upload(Request& req) {
    const std::string* upload_id = req.param("uploadId");
    auto conditions = write_conditions(req);
    if (!conditions) {
        const S3Error err_ = conditions.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto body = co_await read_small_body(req, server_.config.max_xml_body_bytes);
    if (!body) {
        const S3Error err_ = body.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto parts = parse_complete_multipart(*body);
    if (!parts) {
        const S3Error err_ = parts.error();
        co_await send_error(req, err_);
        co_return;
    }
    auto info = co_await blocking([&] {
        return server_.service.complete_multipart(req.addr.bucket, req.addr.key, *upload_id, *parts,
                                                  *conditions);
    });
    if (!info) {
        const S3Error err_ = s3_error_from_status(info.status());
        co_await send_error(req, err_);
        co_return;
    }
    std::string location =
        fmt::format("http://{}/{}/{}", req.host, req.addr.bucket, uri_encode(req.addr.key, false));
    {
        const std::string xml_ =
            render_complete_multipart(location, req.addr.bucket, req.addr.key, info->etag);
        co_await send_xml(req, http::status::ok, xml_);
    }
}

asio::awaitable<void> Connection::abort_multipart_upload(Request& req) {
    const std::string* upload_id = req.param("uploadId");
    Status st = co_await blocking(
        [&] { return server_.service.abort_multipart(req.addr.bucket, req.addr.key, *upload_id); });
    if (!st.is_ok()) {
        const S3Error err_ = s3_error_from_status(st);
        co_await send_error(req, err_);
        co_return;
    }
    co_await send_empty(req, http::status::no_content);
}

asio::awaitable<void> Connection::list_parts(Request& req) {
    ListPartsParams p;
    p.bucket = req.addr.bucket;
    p.key = req.addr.key;
    p.upload_id = *req.param("uploadId");
    if (const std::string* v = req.param("part-number-marker")) {
        auto n = parse_int(*v, 0, service::kMaxPartNumber);
        if (!n) {
            const S3Error err_ = s3_error(C::invalid_argument, "Invalid part-number-marker.");
            co_await send_error(req, err_);
            co_return;
        }
        p.part_number_marker = static_cast<uint32_t>(*n);
    }
    if (const std::string* v = req.param("max-parts")) {
        auto n = parse_int(*v, 0, INT32_MAX);
        if (!n) {
            const S3Error err_ = s3_error(C::invalid_argument, "Invalid max-parts.");
            co_await send_error(req, err_);
            co_return;
        }
        p.max_parts = static_cast<uint32_t>(std::min<int64_t>(*n, 1000));
    }
    auto r = co_await blocking([&] {
        return server_.service.list_parts(p.bucket, p.key, p.upload_id, p.part_number_marker,
                                          p.max_parts);
    });
    if (!r) {
        const S3Error err_ = s3_error_from_status(r.status());
        co_await send_error(req, err_);
        co_return;
    }
    {
        const std::string xml_ = render_list_parts(p, *r, Owner{});
        co_await send_xml(req, http::status::ok, xml_);
    }
}

}  // namespace cleave::s3
