#include "s3/request_util.h"

#include <gtest/gtest.h>

namespace cleave::s3 {
namespace {

TEST(RequestUtilTest, BucketNameRules) {
    const std::vector<std::string> good = {"abc", "my-bucket.1", "a1b", "0bucket9",
                                           std::string(63, 'a')};
    for (const auto& ok : good) EXPECT_TRUE(validate_bucket_name(ok).is_ok()) << ok;
    for (const char* bad : {"ab", "Abc", "a_b", "-abc", "abc-", ".abc", "a..b", "a.-b", "a-.b",
                            "192.168.1.1", "xn--abc", "sthree-x", "abc-s3alias", "a b"}) {
        auto st = validate_bucket_name(bad);
        ASSERT_FALSE(st.is_ok()) << bad;
        EXPECT_EQ(st.error().code, S3ErrorCode::invalid_bucket_name) << bad;
    }
    EXPECT_FALSE(validate_bucket_name(std::string(64, 'a')).is_ok());
}

TEST(RequestUtilTest, PathAndVirtualHostAddressing) {
    const std::vector<std::string> sfx = {"localhost", "s3.localhost", "s3.example.com"};
    auto a = resolve_addressing("127.0.0.1:9000", "/bkt/a%2Fb//c/../d%20e", sfx).value();
    EXPECT_EQ(a.bucket, "bkt");
    EXPECT_EQ(a.key, "a/b//c/../d e");
    EXPECT_FALSE(a.virtual_host);
    auto root = resolve_addressing("localhost:9000", "/", sfx).value();
    EXPECT_TRUE(root.bucket.empty());
    auto v = resolve_addressing("bkt.s3.localhost:9000", "/x/y", sfx).value();
    EXPECT_TRUE(v.virtual_host);
    EXPECT_EQ(v.bucket, "bkt");  // longest suffix wins over "localhost"
    EXPECT_EQ(v.key, "x/y");
    auto exact = resolve_addressing("s3.localhost", "/bkt/k", sfx).value();
    EXPECT_FALSE(exact.virtual_host);
    EXPECT_EQ(exact.bucket, "bkt");
    auto dotted = resolve_addressing("my.bucket.s3.example.com", "/", sfx).value();
    EXPECT_EQ(dotted.bucket, "my.bucket");
    EXPECT_FALSE(resolve_addressing("h", "/bkt/%zz", sfx).is_ok());
    EXPECT_FALSE(resolve_addressing("h", "nope", sfx).is_ok());
}

TEST(RequestUtilTest, IdentifiesOperations) {
    Addressing svc, bucket{"bkt", "", false}, object{"bkt", "k", false};
    auto op = [](std::string_view m, const Addressing& a, QueryParams q = {}, HeaderList h = {}) {
        return identify_operation(m, a, q, h);
    };
    EXPECT_EQ(op("GET", svc).value(), Operation::list_buckets);
    EXPECT_EQ(op("PUT", bucket).value(), Operation::create_bucket);
    EXPECT_EQ(op("GET", bucket).value(), Operation::list_objects_v1);
    EXPECT_EQ(op("GET", bucket, {{"list-type", "2"}}).value(), Operation::list_objects_v2);
    EXPECT_EQ(op("GET", bucket, {{"uploads", ""}}).value(), Operation::list_multipart_uploads);
    EXPECT_EQ(op("POST", bucket, {{"delete", ""}}).value(), Operation::delete_objects);
    EXPECT_EQ(op("PUT", object).value(), Operation::put_object);
    EXPECT_EQ(op("PUT", object, {}, {{"X-Amz-Copy-Source", "a/b"}}).value(),
              Operation::copy_object);
    EXPECT_EQ(op("PUT", object, {{"partNumber", "1"}, {"uploadId", "u"}}).value(),
              Operation::upload_part);
    EXPECT_EQ(op("POST", object, {{"uploads", ""}}).value(), Operation::create_multipart_upload);
    EXPECT_EQ(op("POST", object, {{"uploadId", "u"}}).value(),
              Operation::complete_multipart_upload);
    EXPECT_EQ(op("DELETE", object, {{"uploadId", "u"}}).value(), Operation::abort_multipart_upload);
    EXPECT_EQ(op("GET", object, {{"uploadId", "u"}}).value(), Operation::list_parts);
    EXPECT_EQ(op("GET", object, {{"tagging", ""}}).error().code, S3ErrorCode::not_implemented);
    EXPECT_EQ(op("PATCH", object).error().code, S3ErrorCode::method_not_allowed);
    EXPECT_EQ(op("DELETE", svc).error().code, S3ErrorCode::method_not_allowed);
}

TEST(RequestUtilTest, ResolvesRanges) {
    auto r = resolve_range("bytes=0-9", 100);
    EXPECT_TRUE(r.present && r.satisfiable);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 9u);
    r = resolve_range("bytes=-10", 5);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 4u);
    r = resolve_range("bytes=95-", 100);
    EXPECT_EQ(r.first, 95u);
    EXPECT_EQ(r.last, 99u);
    EXPECT_FALSE(resolve_range("bytes=100-", 100).satisfiable);
    EXPECT_FALSE(resolve_range("bytes=-0", 100).satisfiable);
    EXPECT_FALSE(resolve_range("bytes=0-0", 0).satisfiable);
    // Ignored: not bytes, several ranges, reversed, garbage.
    for (const char* ignored : {"items=0-1", "bytes=0-1,3-4", "bytes=5-1", "bytes=x-y", "bytes=1"})
        EXPECT_FALSE(resolve_range(ignored, 100).present) << ignored;
}

TEST(RequestUtilTest, ConditionalHeadersFollowRfc7232Precedence) {
    const int64_t lm = 1369353600000;  // Fri, 24 May 2013 00:00:00 GMT
    const std::string before = "Thu, 23 May 2013 00:00:00 GMT",
                      same = "Fri, 24 May 2013 00:00:00 GMT",
                      after = "Sat, 25 May 2013 00:00:00 GMT";
    using O = ConditionOutcome;
    auto eval = [&](ConditionalHeaders h) { return evaluate_conditions(h, "abc", lm + 500); };
    EXPECT_EQ(eval({}), O::proceed);
    EXPECT_EQ(eval({.if_match = "\"abc\""}), O::proceed);
    EXPECT_EQ(eval({.if_match = "\"x\", \"abc\""}), O::proceed);
    EXPECT_EQ(eval({.if_match = "*"}), O::proceed);
    EXPECT_EQ(eval({.if_match = "\"x\""}), O::precondition_failed);
    EXPECT_EQ(eval({.if_none_match = "W/\"abc\""}), O::not_modified);
    EXPECT_EQ(eval({.if_none_match = "\"x\""}), O::proceed);
    EXPECT_EQ(eval({.if_modified_since = same}), O::not_modified);  // second resolution
    EXPECT_EQ(eval({.if_modified_since = before}), O::proceed);
    EXPECT_EQ(eval({.if_unmodified_since = before}), O::precondition_failed);
    EXPECT_EQ(eval({.if_unmodified_since = after}), O::proceed);
    EXPECT_EQ(eval({.if_modified_since = "garbage"}), O::proceed);
    // If-Match true makes If-Unmodified-Since irrelevant; If-None-Match
    // false (no match) makes If-Modified-Since irrelevant.
    EXPECT_EQ(eval({.if_match = "\"abc\"", .if_unmodified_since = before}), O::proceed);
    EXPECT_EQ(eval({.if_none_match = "\"x\"", .if_modified_since = after}), O::proceed);
    EXPECT_EQ(eval({.if_match = "\"x\"", .if_none_match = "\"abc\""}), O::precondition_failed);
}

TEST(RequestUtilTest, ObjectHeadersAndMetadataLimit) {
    auto h = object_headers_from_request({{"Content-Type", "text/plain"},
                                          {"Content-Encoding", "aws-chunked, gzip"},
                                          {"X-Amz-Meta-Zeta", "1"},
                                          {"x-amz-meta-alpha", "2"},
                                          {"x-amz-date", "ignored"}});
    ASSERT_TRUE(h.is_ok());
    EXPECT_EQ(h->content_type, "text/plain");
    EXPECT_EQ(h->content_encoding, "gzip");
    ASSERT_EQ(h->user_metadata.size(), 2u);
    EXPECT_EQ(h->user_metadata[0].first, "alpha");
    EXPECT_EQ(h->user_metadata[1].first, "zeta");
    auto big = object_headers_from_request({{"x-amz-meta-k", std::string(2048, 'v')}});
    ASSERT_FALSE(big.is_ok());
    EXPECT_EQ(big.error().code, S3ErrorCode::metadata_too_large);
    EXPECT_TRUE(object_headers_from_request({{"x-amz-meta-k", std::string(2047, 'v')}}).is_ok());
}

TEST(RequestUtilTest, KeysTokensAndIntegers) {
    EXPECT_TRUE(validate_key(std::string(1024, 'k')).is_ok());
    EXPECT_EQ(validate_key(std::string(1025, 'k')).error().code, S3ErrorCode::key_too_long);
    EXPECT_EQ(validate_key("").error().code, S3ErrorCode::invalid_argument);
    std::string key = std::string("a/\x00\xff", 4);
    EXPECT_EQ(decode_continuation_token(encode_continuation_token(key)).value(), key);
    EXPECT_FALSE(decode_continuation_token("!!").has_value());
    EXPECT_EQ(parse_int("42", 0, 100).value(), 42);
    EXPECT_FALSE(parse_int("101", 0, 100).has_value());
    EXPECT_FALSE(parse_int("4x", 0, 100).has_value());
    EXPECT_FALSE(parse_int("", 0, 100).has_value());
}

}  // namespace
}  // namespace cleave::s3
