#pragma once
// Small pure helpers of the S3 wire format: percent-encoding as SigV4 and S3
// define it, query strings, and the three date formats S3 uses.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cleave::s3 {

using QueryParams = std::vector<std::pair<std::string, std::string>>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// S3's UriEncode: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX
// (uppercase hex); '/' is kept when encode_slash is false (object key paths).
std::string uri_encode(std::string_view in, bool encode_slash);

// Decodes %XX sequences exactly once. '+' stays '+' (S3 paths and SigV4
// queries encode a space as %20). Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in);

// Splits a raw query string ("a=1&b&c=x%20y") into decoded pairs, in order.
// A name without '=' has an empty value. nullopt on a malformed escape.
std::optional<QueryParams> parse_query(std::string_view raw_query);

// Finds a query parameter by exact name; nullptr when absent.
const std::string* find_param(const QueryParams& params, std::string_view name);

// UTF-8: the length of the well-formed sequence starting at s[i], or 0 when
// none starts there (bad lead or continuation byte, overlong form, surrogate,
// value past U+10FFFF, or truncated).
size_t utf8_sequence_length(std::string_view s, size_t i);
bool is_valid_utf8(std::string_view s);

// Case-insensitive ASCII comparison (HTTP header names).
bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);

// Dates. All are UTC.
// "20130524T000000Z" (x-amz-date, ISO 8601 basic).
std::string format_amz_date(int64_t unix_ms);
std::optional<int64_t> parse_amz_date(std::string_view s);  // -> unix ms
// "Fri, 24 May 2013 00:00:00 GMT" (RFC 1123; Last-Modified, Date). The
// parser also accepts RFC 850 and asctime forms (RFC 7231 section 7.1.1.1).
std::string format_http_date(int64_t unix_ms);
std::optional<int64_t> parse_http_date(std::string_view s);
// "2013-05-24T00:00:00.000Z" (ISO 8601 in XML bodies).
std::string format_iso8601(int64_t unix_ms);

}  // namespace cleave::s3
