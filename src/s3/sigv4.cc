#include "s3/sigv4.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/hash.h"

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;

// Constant-time comparison of two hex signatures.
bool equal_ct(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char d = 0;
    for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
    return d == 0;
}

bool is_lower_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Header value as SigV4 canonicalises it: trimmed, runs of spaces collapsed.
std::string canonical_header_value(std::string_view v) {
    v = trim(v);
    std::string out;
    out.reserve(v.size());
    bool in_space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t') {
            in_space = true;
            continue;
        }
        if (in_space && !out.empty()) out += ' ';
        in_space = false;
        out += c;
    }
    return out;
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) return &v;
    }
    return nullptr;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (true) {
        size_t i = s.find(sep, pos);
        out.emplace_back(s.substr(pos, i == std::string_view::npos ? s.npos : i - pos));
        if (i == std::string_view::npos) break;
        pos = i + 1;
    }
    return out;
}

struct Credential {
    std::string access_key;
    std::string date;  // yyyymmdd
    std::string region;
    std::string service;
    std::string scope() const {
        return fmt::format("{}/{}/{}/aws4_request", date, region, service);
    }
};

// "AK/20130524/us-east-1/s3/aws4_request"
std::optional<Credential> parse_credential(std::string_view s) {
    auto parts = split(s, '/');
    if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 || parts[2].empty() ||
        parts[4] != "aws4_request")
        return std::nullopt;
    return Credential{parts[0], parts[1], parts[2], parts[3]};
}

std::optional<std::vector<std::string>> parse_signed_headers(std::string_view s) {
    if (s.empty()) return std::nullopt;
    auto names = split(s, ';');
    for (auto& n : names) {
        if (n.empty()) return std::nullopt;
        n = to_lower(n);
    }
    return names;
}

struct ParsedAuth {
    Credential credential;
    std::vector<std::string> signed_headers;
    std::string signature;
};

S3Result<ParsedAuth> parse_authorization(std::string_view header) {
    header = trim(header);
    if (header.starts_with("AWS ")) {
        return s3_error(C::invalid_request,
                        "Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256.");
    }
    if (!header.starts_with(kSigV4Algorithm) || header.size() <= kSigV4Algorithm.size() ||
        header[kSigV4Algorithm.size()] != ' ') {
        return s3_error(C::authorization_header_malformed,
                        "The authorization header is malformed; the algorithm must be "
                        "AWS4-HMAC-SHA256.");
    }
    std::string_view rest = header.substr(kSigV4Algorithm.size() + 1);
    std::optional<Credential> cred;
    std::optional<std::vector<std::string>> signed_headers;
    std::string signature;
    for (const auto& raw : split(rest, ',')) {
        std::string_view item = trim(raw);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            return s3_error(C::authorization_header_malformed,
                            fmt::format("The authorization header is malformed; '{}' is not "
                                        "NAME=VALUE.",
                                        item));
        }
        std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
        if (name == "Credential") {
            cred = parse_credential(value);
            if (!cred)
                return s3_error(C::authorization_header_malformed,
                                "The authorization header is malformed; the Credential is "
                                "mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                                "aws4_request\".");
        } else if (name == "SignedHeaders") {
            signed_headers = parse_signed_headers(value);
            if (!signed_headers)
                return s3_error(C::authorization_header_malformed,
                                "The authorization header is malformed; bad SignedHeaders.");
        } else if (name == "Signature") {
            signature = to_lower(value);
        }
    }
    if (!cred || !signed_headers || signature.empty()) {
        return s3_error(C::authorization_header_malformed,
                        "The authorization header is malformed; Credential, SignedHeaders and "
                        "Signature are required.");
    }
    return ParsedAuth{std::move(*cred), std::move(*signed_headers), std::move(signature)};
}

S3Status check_scope(const Credential& cred, std::string_view amz_date, bool presigned) {
    C bad = presigned ? C::authorization_query_parameters_error : C::authorization_header_malformed;
    if (cred.service != "s3")
        return s3_error(bad, fmt::format("Incorrect service '{}' in the credential scope; "
                                         "expecting 's3'.",
                                         cred.service));
    if (amz_date.substr(0, 8) != cred.date)
        return s3_error(bad, "Invalid credential date. Date is not the same as X-Amz-Date.");
    return S3Status::ok();
}

S3Status check_signed_headers(const std::vector<std::string>& names, const HeaderList& headers,
                              bool presigned) {
    C bad = presigned ? C::authorization_query_parameters_error : C::authorization_header_malformed;
    if (std::find(names.begin(), names.end(), "host") == names.end())
        return s3_error(bad, "The host header must be signed.");
    for (const auto& n : names) {
        if (find_header(headers, n) == nullptr && n != "host")
            return s3_error(C::access_denied,
                            fmt::format("Signed header '{}' is not in the request.", n));
    }
    return S3Status::ok();
}

// The signature of a canonical request, trying first the canonical form of
// the path and then, when different, the path exactly as sent.
bool signature_matches(const SigV4Request& req, const std::vector<std::string>& signed_headers,
                       std::string_view payload_hash, std::string_view amz_date,
                       std::string_view scope, std::string_view signing_key,
                       std::string_view query_skip, std::string_view expected) {
    std::string canon_uri = canonical_uri(req.raw_path);
    auto compute = [&](std::string_view uri) {
        QueryParams q;
        for (const auto& p : req.query)
            if (query_skip.empty() || p.first != query_skip) q.push_back(p);
        std::string creq =
            canonical_request(req.method, uri, q, req.headers, signed_headers, payload_hash);
        return to_hex(hmac_sha256(signing_key, string_to_sign(amz_date, scope, creq)));
    };
    if (equal_ct(compute(canon_uri), expected)) return true;
    if (canon_uri != req.raw_path && !req.raw_path.empty())
        return equal_ct(compute(req.raw_path), expected);
    return false;
}

S3Result<AuthContext> verify_presigned(const SigV4Request& req,
                                       const CredentialProvider& credentials,
                                       const VerifyOptions& options) {
    constexpr C bad = C::authorization_query_parameters_error;
    const std::string* algorithm = find_param(req.query, "X-Amz-Algorithm");
    const std::string* credential = find_param(req.query, "X-Amz-Credential");
    const std::string* date = find_param(req.query, "X-Amz-Date");
    const std::string* expires = find_param(req.query, "X-Amz-Expires");
    const std::string* signed_headers_s = find_param(req.query, "X-Amz-SignedHeaders");
    const std::string* signature = find_param(req.query, "X-Amz-Signature");
    if (!algorithm || !credential || !date || !expires || !signed_headers_s || !signature) {
        return s3_error(bad,
                        "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                        "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                        "and X-Amz-Expires parameters.");
    }
    if (*algorithm != kSigV4Algorithm)
        return s3_error(bad, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    auto cred = parse_credential(*credential);
    if (!cred)
        return s3_error(bad,
                        "Error parsing the X-Amz-Credential parameter; the Credential is "
                        "mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                        "aws4_request\".");
    auto request_ms = parse_amz_date(*date);
    if (!request_ms)
        return s3_error(bad,
                        "X-Amz-Date must be in the ISO8601 Long Format "
                        "\"yyyyMMdd'T'HHmmss'Z'\"");
    int64_t expires_s = -1;
    {
        auto [p, ec] =
            std::from_chars(expires->data(), expires->data() + expires->size(), expires_s);
        if (ec != std::errc() || p != expires->data() + expires->size()) expires_s = -1;
    }
    if (expires_s < 0) return s3_error(bad, "X-Amz-Expires should be a number");
    if (expires_s < 1)
        return s3_error(bad, "X-Amz-Expires must be non-negative and at least 1 second");
    if (expires_s > kMaxPresignExpirySeconds)
        return s3_error(bad,
                        "X-Amz-Expires must be less than a week (in seconds) that is "
                        "604800");
    auto signed_headers = parse_signed_headers(*signed_headers_s);
    if (!signed_headers) return s3_error(bad, "X-Amz-SignedHeaders is malformed.");
    if (auto st = check_scope(*cred, *date, true); !st) return st.error();
    if (auto st = check_signed_headers(*signed_headers, req.headers, true); !st) return st.error();

    if (*request_ms > options.now_ms + options.max_skew_ms)
        return s3_error(C::access_denied, "Request is not valid yet");
    if (options.now_ms > *request_ms + expires_s * 1000)
        return s3_error(C::access_denied, "Request has expired");

    auto secret = credentials.secret_for(cred->access_key);
    if (!secret) return s3_error(C::invalid_access_key_id);

    std::string payload_hash(kUnsignedPayload);
    if (const std::string* h = find_param(req.query, "X-Amz-Content-Sha256")) payload_hash = *h;

    std::string key = derive_signing_key(*secret, cred->date, cred->region, cred->service);
    if (!signature_matches(req, *signed_headers, payload_hash, *date, cred->scope(), key,
                           "X-Amz-Signature", to_lower(*signature))) {
        return s3_error(C::signature_does_not_match);
    }
    AuthContext ctx;
    ctx.access_key = cred->access_key;
    ctx.presigned = true;
    ctx.payload_mode = PayloadMode::unsigned_payload;
    if (is_lower_hex64(payload_hash)) {
        ctx.payload_mode = PayloadMode::sha256;
        ctx.payload_sha256_hex = payload_hash;
    }
    return ctx;
}

S3Result<AuthContext> verify_header(const SigV4Request& req, std::string_view authorization,
                                    const CredentialProvider& credentials,
                                    const VerifyOptions& options) {
    auto parsed = parse_authorization(authorization);
    if (!parsed) return parsed.error();
    const ParsedAuth& auth = parsed.value();

    // The request time: x-amz-date, else Date.
    std::string amz_date;
    int64_t request_ms = 0;
    if (const std::string* d = find_header(req.headers, "x-amz-date")) {
        auto ms = parse_amz_date(trim(*d));
        if (!ms)
            return s3_error(C::access_denied,
                            "AWS authentication requires a valid Date or x-amz-date header");
        amz_date = std::string(trim(*d));
        request_ms = *ms;
    } else if (const std::string* d2 = find_header(req.headers, "date")) {
        auto ms = parse_http_date(*d2);
        if (!ms)
            return s3_error(C::access_denied,
                            "AWS authentication requires a valid Date or x-amz-date header");
        request_ms = *ms;
        amz_date = format_amz_date(*ms);
    } else {
        return s3_error(C::access_denied,
                        "AWS authentication requires a valid Date or x-amz-date header");
    }
    if (auto st = check_scope(auth.credential, amz_date, false); !st) return st.error();
    if (auto st = check_signed_headers(auth.signed_headers, req.headers, false); !st)
        return st.error();

    const std::string* content_sha = find_header(req.headers, "x-amz-content-sha256");
    if (content_sha == nullptr)
        return s3_error(C::invalid_request,
                        "Missing required header for this request: x-amz-content-sha256");
    std::string payload_hash(trim(*content_sha));
    AuthContext ctx;
    if (payload_hash == kUnsignedPayload) {
        ctx.payload_mode = PayloadMode::unsigned_payload;
    } else if (payload_hash == kStreamingSignedPayload) {
        ctx.payload_mode = PayloadMode::streaming_signed;
    } else if (payload_hash == kStreamingSignedPayloadTrailer) {
        ctx.payload_mode = PayloadMode::streaming_signed_trailer;
    } else if (payload_hash == kStreamingUnsignedPayloadTrailer) {
        ctx.payload_mode = PayloadMode::streaming_unsigned_trailer;
    } else {
        std::string lower = to_lower(payload_hash);
        if (!is_lower_hex64(lower))
            return s3_error(C::invalid_argument,
                            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.");
        ctx.payload_mode = PayloadMode::sha256;
        ctx.payload_sha256_hex = lower;
    }

    int64_t skew = request_ms - options.now_ms;
    if (skew > options.max_skew_ms || -skew > options.max_skew_ms)
        return s3_error(C::request_time_too_skewed,
                        fmt::format("The difference between the request time ({}) and the "
                                    "server's time ({}) is too large.",
                                    amz_date, format_amz_date(options.now_ms)));

    auto secret = credentials.secret_for(auth.credential.access_key);
    if (!secret) return s3_error(C::invalid_access_key_id);

    std::string scope = auth.credential.scope();
    std::string key = derive_signing_key(*secret, auth.credential.date, auth.credential.region,
                                         auth.credential.service);
    if (!signature_matches(req, auth.signed_headers, payload_hash, amz_date, scope, key, {},
                           auth.signature)) {
        return s3_error(C::signature_does_not_match);
    }
    ctx.access_key = auth.credential.access_key;
    if (is_streaming(ctx.payload_mode)) {
        ctx.chunk_signing.signing_key = std::move(key);
        ctx.chunk_signing.amz_date = amz_date;
        ctx.chunk_signing.scope = std::move(scope);
        ctx.chunk_signing.seed_signature = auth.signature;
    }
    return ctx;
}

// ---- Legacy SigV2 presigned URLs ----

// Sub-resources that belong to SigV2's CanonicalizedResource.
constexpr std::string_view kV2Subresources[] = {
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

std::string hmac_sha1(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

S3Result<AuthContext> verify_presigned_v2(const SigV4Request& req,
                                          const CredentialProvider& credentials,
                                          const VerifyOptions& options) {
    constexpr C bad = C::authorization_query_parameters_error;
    const std::string* key = find_param(req.query, "AWSAccessKeyId");
    const std::string* expires = find_param(req.query, "Expires");
    const std::string* signature = find_param(req.query, "Signature");
    if (!key || !expires || !signature)
        return s3_error(bad,
                        "Query-string authentication requires the Signature, Expires and "
                        "AWSAccessKeyId parameters");
    int64_t expires_s = 0;
    auto [p, ec] = std::from_chars(expires->data(), expires->data() + expires->size(), expires_s);
    if (ec != std::errc() || p != expires->data() + expires->size())
        return s3_error(bad, "Expires is not a number");
    if (options.now_ms > expires_s * 1000) return s3_error(C::access_denied, "Request has expired");
    if (expires_s * 1000 > options.now_ms + kMaxPresignExpirySeconds * 1000 + options.max_skew_ms)
        return s3_error(bad, "Expires must be less than a week (in seconds) from now");
    auto secret = credentials.secret_for(*key);
    if (!secret) return s3_error(C::invalid_access_key_id);

    auto header = [&](std::string_view name) {
        const std::string* v = find_header(req.headers, name);
        return v ? std::string(trim(*v)) : std::string();
    };
    std::string sts = req.method + "\n" + header("content-md5") + "\n" + header("content-type") +
                      "\n" + *expires + "\n";
    std::vector<std::pair<std::string, std::string>> amz;
    for (const auto& [n, v] : req.headers) {
        std::string l = to_lower(n);
        if (!l.starts_with("x-amz-")) continue;
        auto it = std::find_if(amz.begin(), amz.end(), [&](const auto& e) { return e.first == l; });
        if (it == amz.end())
            amz.emplace_back(l, std::string(trim(v)));
        else
            it->second += "," + std::string(trim(v));
    }
    std::sort(amz.begin(), amz.end());
    for (const auto& [n, v] : amz) sts += n + ":" + v + "\n";
    std::string resource;
    if (!req.virtual_host_bucket.empty()) resource = "/" + req.virtual_host_bucket;
    resource += req.raw_path.empty() ? std::string("/") : req.raw_path;
    std::vector<std::pair<std::string, std::string>> subs;
    for (const auto& [n, v] : req.query) {
        if (std::find(std::begin(kV2Subresources), std::end(kV2Subresources), n) !=
            std::end(kV2Subresources))
            subs.emplace_back(n, v);
    }
    std::sort(subs.begin(), subs.end());
    for (size_t i = 0; i < subs.size(); ++i) {
        resource += i == 0 ? '?' : '&';
        resource += subs[i].first;
        if (!subs[i].second.empty()) resource += "=" + subs[i].second;
    }
    sts += resource;
    std::string expected = base64_encode(hmac_sha1(*secret, sts));
    if (!equal_ct(expected, *signature)) return s3_error(C::signature_does_not_match);
    AuthContext ctx;
    ctx.access_key = *key;
    ctx.presigned = true;
    ctx.payload_mode = PayloadMode::unsigned_payload;
    return ctx;
}

}  // namespace

bool is_streaming(PayloadMode mode) {
    return mode == PayloadMode::streaming_signed || mode == PayloadMode::streaming_signed_trailer ||
           mode == PayloadMode::streaming_unsigned_trailer;
}

std::string canonical_uri(std::string_view raw_path) {
    if (raw_path.empty()) return "/";
    auto decoded = percent_decode(raw_path);
    if (!decoded) return std::string(raw_path);
    return uri_encode(*decoded, /*encode_slash=*/false);
}

std::string canonical_query_string(const QueryParams& query, std::string_view skip) {
    std::vector<std::pair<std::string, std::string>> enc;
    enc.reserve(query.size());
    for (const auto& [n, v] : query) {
        if (!skip.empty() && n == skip) continue;
        enc.emplace_back(uri_encode(n, true), uri_encode(v, true));
    }
    std::sort(enc.begin(), enc.end());
    std::string out;
    for (const auto& [n, v] : enc) {
        if (!out.empty()) out += '&';
        out += n;
        out += '=';
        out += v;
    }
    return out;
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri_text,
                              const QueryParams& query, const HeaderList& headers,
                              const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash) {
    std::string out;
    out += method;
    out += '\n';
    out += canonical_uri_text;
    out += '\n';
    out += canonical_query_string(query);
    out += '\n';
    for (const auto& name : signed_headers) {
        out += name;
        out += ':';
        bool first = true;
        for (const auto& [n, v] : headers) {
            if (!iequals(n, name)) continue;
            if (!first) out += ',';
            out += canonical_header_value(v);
            first = false;
        }
        out += '\n';
    }
    out += '\n';
    for (size_t i = 0; i < signed_headers.size(); ++i) {
        if (i > 0) out += ';';
        out += signed_headers[i];
    }
    out += '\n';
    out += payload_hash;
    return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_text) {
    return fmt::format("{}\n{}\n{}\n{}", kSigV4Algorithm, amz_date, scope,
                       to_hex(sha256(canonical_request_text)));
}

std::string derive_signing_key(std::string_view secret_key, std::string_view date_yyyymmdd,
                               std::string_view region, std::string_view service) {
    std::string k = hmac_sha256(std::string("AWS4") + std::string(secret_key), date_yyyymmdd);
    k = hmac_sha256(k, region);
    k = hmac_sha256(k, service);
    return hmac_sha256(k, "aws4_request");
}

std::string chunk_signature(const ChunkSigningContext& ctx, std::string_view prev_signature,
                            std::string_view chunk_data) {
    std::string sts =
        fmt::format("AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}", ctx.amz_date, ctx.scope,
                    prev_signature, kEmptySha256Hex, to_hex(sha256(chunk_data)));
    return to_hex(hmac_sha256(ctx.signing_key, sts));
}

S3Result<AuthContext> verify_request(const SigV4Request& request,
                                     const CredentialProvider& credentials,
                                     const VerifyOptions& options) {
    const std::string* authorization = find_header(request.headers, "authorization");
    bool has_query_auth = find_param(request.query, "X-Amz-Signature") != nullptr ||
                          find_param(request.query, "X-Amz-Credential") != nullptr ||
                          find_param(request.query, "X-Amz-Algorithm") != nullptr;
    if (authorization != nullptr && has_query_auth)
        return s3_error(C::invalid_argument,
                        "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                        "parameter or the Authorization header should be specified");
    if (authorization != nullptr)
        return verify_header(request, *authorization, credentials, options);
    if (has_query_auth) return verify_presigned(request, credentials, options);
    if (find_param(request.query, "Signature") != nullptr ||
        find_param(request.query, "AWSAccessKeyId") != nullptr)
        return verify_presigned_v2(request, credentials, options);
    return s3_error(C::access_denied, "Anonymous requests are not allowed.");
}

namespace {

std::vector<std::string> signed_header_names(const HeaderList& headers) {
    std::vector<std::string> names;
    for (const auto& [n, v] : headers) {
        std::string l = to_lower(n);
        if (l == "authorization") continue;
        if (std::find(names.begin(), names.end(), l) == names.end()) names.push_back(l);
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

Result<std::string> sign_request(SigV4Request& request, std::string_view payload_hash,
                                 const Credentials& credentials, const SignOptions& options) {
    if (find_header(request.headers, "host") == nullptr)
        return Status::invalid_argument("sign_request: the request has no Host header");
    std::erase_if(request.headers, [](const auto& h) {
        return iequals(h.first, "authorization") || iequals(h.first, "x-amz-date") ||
               iequals(h.first, "x-amz-content-sha256");
    });
    std::string amz_date = format_amz_date(options.now_ms);
    request.headers.emplace_back("x-amz-date", amz_date);
    request.headers.emplace_back("x-amz-content-sha256", std::string(payload_hash));
    auto names = signed_header_names(request.headers);
    std::string date = amz_date.substr(0, 8);
    std::string scope = fmt::format("{}/{}/{}/aws4_request", date, options.region, options.service);
    std::string creq = canonical_request(request.method, canonical_uri(request.raw_path),
                                         request.query, request.headers, names, payload_hash);
    std::string key =
        derive_signing_key(credentials.secret_key, date, options.region, options.service);
    std::string signature = to_hex(hmac_sha256(key, string_to_sign(amz_date, scope, creq)));
    std::string joined;
    for (const auto& n : names) {
        if (!joined.empty()) joined += ';';
        joined += n;
    }
    request.headers.emplace_back(
        "Authorization",
        fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kSigV4Algorithm,
                    credentials.access_key, scope, joined, signature));
    return signature;
}

Result<std::string> presign_url(const SigV4Request& request, int64_t expires_s,
                                const Credentials& credentials, const SignOptions& options) {
    if (find_header(request.headers, "host") == nullptr)
        return Status::invalid_argument("presign_url: the request has no Host header");
    if (expires_s < 1 || expires_s > kMaxPresignExpirySeconds)
        return Status::invalid_argument("presign_url: expiry must be 1 s to 7 days");
    std::string amz_date = format_amz_date(options.now_ms);
    std::string date = amz_date.substr(0, 8);
    std::string scope = fmt::format("{}/{}/{}/aws4_request", date, options.region, options.service);
    auto names = signed_header_names(request.headers);
    std::string joined;
    for (const auto& n : names) {
        if (!joined.empty()) joined += ';';
        joined += n;
    }
    QueryParams q = request.query;
    q.emplace_back("X-Amz-Algorithm", std::string(kSigV4Algorithm));
    q.emplace_back("X-Amz-Credential", credentials.access_key + "/" + scope);
    q.emplace_back("X-Amz-Date", amz_date);
    q.emplace_back("X-Amz-Expires", std::to_string(expires_s));
    q.emplace_back("X-Amz-SignedHeaders", joined);
    std::string creq = canonical_request(request.method, canonical_uri(request.raw_path), q,
                                         request.headers, names, kUnsignedPayload);
    std::string key =
        derive_signing_key(credentials.secret_key, date, options.region, options.service);
    std::string signature = to_hex(hmac_sha256(key, string_to_sign(amz_date, scope, creq)));
    std::string url = canonical_uri(request.raw_path);
    url += '?';
    url += canonical_query_string(q);
    url += "&X-Amz-Signature=";
    url += signature;
    return url;
}

}  // namespace cleave::s3
