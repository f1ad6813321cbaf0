#include "s3/errors.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace cleave::s3 {
namespace {

TEST(S3ErrorsTest, TableHasOneEntryPerCodeInEnumOrder) {
    auto table = s3_error_table();
    ASSERT_EQ(table.size(), kS3ErrorCodeCount);
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_EQ(static_cast<size_t>(table[i].code), i) << table[i].name;
    }
}

TEST(S3ErrorsTest, CodesAreUniqueAndWellFormed) {
    std::set<std::string_view> names;
    for (const auto& e : s3_error_table()) {
        EXPECT_TRUE(names.insert(e.name).second) << "duplicate code " << e.name;
        ASSERT_FALSE(e.name.empty());
        EXPECT_TRUE(e.name[0] >= 'A' && e.name[0] <= 'Z') << e.name;
        for (char c : e.name) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << e.name;
        EXPECT_FALSE(e.default_message.empty()) << e.name;
    }
}

TEST(S3ErrorsTest, StatusesAreValidHttpErrorStatuses) {
    const std::set<int> allowed{304, 400, 403, 404, 405, 409, 411, 412, 416, 500, 501, 503};
    for (const auto& e : s3_error_table()) {
        EXPECT_TRUE(allowed.contains(e.http_status)) << e.name << " " << e.http_status;
    }
}

TEST(S3ErrorsTest, WellKnownCodesHaveS3sStatus) {
    struct Want {
        S3ErrorCode code;
        std::string_view name;
        int status;
    };
    const Want wants[] = {
        {S3ErrorCode::no_such_key, "NoSuchKey", 404},
        {S3ErrorCode::no_such_bucket, "NoSuchBucket", 404},
        {S3ErrorCode::signature_does_not_match, "SignatureDoesNotMatch", 403},
        {S3ErrorCode::access_denied, "AccessDenied", 403},
        {S3ErrorCode::invalid_range, "InvalidRange", 416},
        {S3ErrorCode::precondition_failed, "PreconditionFailed", 412},
        {S3ErrorCode::not_modified, "NotModified", 304},
        {S3ErrorCode::bucket_not_empty, "BucketNotEmpty", 409},
        {S3ErrorCode::key_too_long, "KeyTooLongError", 400},
        {S3ErrorCode::x_amz_content_sha256_mismatch, "XAmzContentSHA256Mismatch", 400},
        {S3ErrorCode::request_time_too_skewed, "RequestTimeTooSkewed", 403},
        {S3ErrorCode::internal_error, "InternalError", 500},
        {S3ErrorCode::not_implemented, "NotImplemented", 501},
        {S3ErrorCode::missing_content_length, "MissingContentLength", 411},
    };
    for (const auto& w : wants) {
        EXPECT_EQ(s3_error_info(w.code).name, w.name);
        EXPECT_EQ(s3_error_info(w.code).http_status, w.status) << w.name;
    }
}

TEST(S3ErrorsTest, EveryErrcMapsToATableEntry) {
    // Errc has no count marker; iterate up to the last value and past it to
    // catch a new value that was added without a mapping (it would map to the
    // switch's fallback and the test of its name below would say so).
    for (int i = 0; i <= static_cast<int>(Errc::invalid_range); ++i) {
        auto errc = static_cast<Errc>(i);
        S3ErrorCode code = s3_code_for_errc(errc);
        EXPECT_LT(static_cast<size_t>(code), kS3ErrorCodeCount) << errc_name(errc);
        EXPECT_NE(errc_name(errc), "unknown");
    }
    EXPECT_EQ(s3_code_for_errc(Errc::no_such_key), S3ErrorCode::no_such_key);
    EXPECT_EQ(s3_code_for_errc(Errc::no_such_bucket), S3ErrorCode::no_such_bucket);
    EXPECT_EQ(s3_code_for_errc(Errc::no_such_upload), S3ErrorCode::no_such_upload);
    EXPECT_EQ(s3_code_for_errc(Errc::not_empty), S3ErrorCode::bucket_not_empty);
    EXPECT_EQ(s3_code_for_errc(Errc::precondition_failed), S3ErrorCode::precondition_failed);
    EXPECT_EQ(s3_code_for_errc(Errc::entity_too_small), S3ErrorCode::entity_too_small);
    EXPECT_EQ(s3_code_for_errc(Errc::invalid_part_order), S3ErrorCode::invalid_part_order);
    EXPECT_EQ(s3_code_for_errc(Errc::too_large), S3ErrorCode::entity_too_large);
    EXPECT_EQ(s3_code_for_errc(Errc::unavailable), S3ErrorCode::service_unavailable);
}

TEST(S3ErrorsTest, CorruptionIsAnInternalErrorWithAClearMessage) {
    S3Error e = s3_error_from_status(Status::corruption("chunk abc: sha256 mismatch"));
    EXPECT_EQ(e.code, S3ErrorCode::internal_error);
    EXPECT_EQ(e.http_status(), 500);
    EXPECT_NE(e.effective_message().find("integrity"), std::string_view::npos);
    // Internal details of I/O errors stay in the log.
    S3Error io = s3_error_from_status(Status::io_error("/data/chunks/ab: EIO"));
    EXPECT_EQ(io.effective_message().find("/data"), std::string_view::npos);
}

TEST(S3ErrorsTest, RendersEscapedXml) {
    S3Error e = s3_error(S3ErrorCode::no_such_key, "no <key> & \"such\"");
    std::string xml = render_error_xml(e, "/b/k<1>", "req-1");
    EXPECT_EQ(xml,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
              "<Message>no &lt;key&gt; &amp; &quot;such&quot;</Message>"
              "<Resource>/b/k&lt;1&gt;</Resource><RequestId>req-1</RequestId></Error>");
    S3Error d = s3_error(S3ErrorCode::no_such_bucket);
    EXPECT_EQ(d.effective_message(), "The specified bucket does not exist.");
}

TEST(S3ErrorsTest, S3ResultHoldsValueOrError) {
    S3Result<int> ok = 5;
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), 5);
    S3Result<int> bad = s3_error(S3ErrorCode::invalid_argument, "x");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.error().code, S3ErrorCode::invalid_argument);
    EXPECT_FALSE(bad.status().is_ok());
}

}  // namespace
}  // namespace cleave::s3
