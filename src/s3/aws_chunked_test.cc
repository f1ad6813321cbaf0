#include "s3/aws_chunked.h"

#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

#include "common/random.h"

namespace cleave::s3 {
namespace {

// CLEAVE_TEST_SEED replays a failed run; otherwise a fresh seed, printed.
uint64_t test_seed() {
    if (const char* s = std::getenv("CLEAVE_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    return std::random_device{}() * 0x9e3779b97f4a7c15ULL ^ std::random_device{}();
}

ChunkSigningContext example_context() {
    ChunkSigningContext ctx;
    ctx.signing_key = derive_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524",
                                         "us-east-1", "s3");
    ctx.amz_date = "20130524T000000Z";
    ctx.scope = "20130524/us-east-1/s3/aws4_request";
    ctx.seed_signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    return ctx;
}

// The body of AWS's documented chunked upload: 65536 + 1024 bytes of 'a'.
std::string documented_body() {
    std::string b;
    b += "10000;chunk-signature="
         "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n";
    b += std::string(65536, 'a') + "\r\n";
    b += "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n";
    b += std::string(1024, 'a') + "\r\n";
    b += "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n";
    b += "\r\n";
    return b;
}

AwsChunkedDecoder::Options options(std::optional<uint64_t> len = 66560) {
    AwsChunkedDecoder::Options o;
    o.mode = PayloadMode::streaming_signed;
    o.signing = example_context();
    o.decoded_length = len;
    return o;
}

TEST(AwsChunkedTest, DecodesTheDocumentedBody) {
    std::string body = documented_body();
    EXPECT_EQ(body.size(), 66824u);  // the documented Content-Length
    EXPECT_EQ(aws_chunked_encoded_length(66560, 65536), 66824u);
    AwsChunkedDecoder d(options());
    std::string out;
    ASSERT_TRUE(d.feed(body, &out).is_ok());
    ASSERT_TRUE(d.finish().is_ok());
    EXPECT_TRUE(d.done());
    EXPECT_EQ(out, std::string(66560, 'a'));
    EXPECT_EQ(aws_chunked_encode(std::string(66560, 'a'), 65536, example_context()), body);
}

TEST(AwsChunkedTest, ArbitraryFeedBoundaries) {
    std::string body = documented_body();
    uint64_t seed = test_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random rng(seed);
    for (int round = 0; round < 50; ++round) {
        AwsChunkedDecoder d(options());
        std::string out;
        size_t pos = 0;
        while (pos < body.size()) {
            size_t n = std::min<size_t>(body.size() - pos, 1 + rng.uniform(round < 10 ? 3 : 9000));
            ASSERT_TRUE(d.feed(std::string_view(body).substr(pos, n), &out).is_ok());
            pos += n;
        }
        ASSERT_TRUE(d.finish().is_ok());
        EXPECT_EQ(out.size(), 66560u);
    }
    // One byte at a time.
    AwsChunkedDecoder d(options());
    std::string out;
    for (char c : body) ASSERT_TRUE(d.feed(std::string_view(&c, 1), &out).is_ok());
    ASSERT_TRUE(d.finish().is_ok());
}

TEST(AwsChunkedTest, BadSignatureIsRefused) {
    std::string body = documented_body();
    body[100] = 'b';  // data of the first chunk altered
    AwsChunkedDecoder d(options());
    std::string out;
    S3Status st = d.feed(body, &out);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.error().code, S3ErrorCode::signature_does_not_match);
    EXPECT_FALSE(d.feed("x", &out).is_ok());  // stays failed
    EXPECT_FALSE(d.finish().is_ok());

    // Chunks swapped or a signature replaced by another's.
    std::string swapped = documented_body();
    swapped.replace(22, 64, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    AwsChunkedDecoder d2(options());
    EXPECT_EQ(d2.feed(swapped, &out).error().code, S3ErrorCode::signature_does_not_match);
}

TEST(AwsChunkedTest, MalformedFramingAndLengthsAreRefused) {
    std::string out;
    auto fails = [&](std::string body, std::optional<uint64_t> len, S3ErrorCode code) {
        AwsChunkedDecoder d(options(len));
        S3Status st = d.feed(body, &out);
        if (st.is_ok()) st = d.finish();
        ASSERT_FALSE(st.is_ok()) << body.substr(0, 40);
        EXPECT_EQ(st.error().code, code) << body.substr(0, 40);
    };
    std::string good = documented_body();
    fails("zz;chunk-signature=00\r\n", 66560, S3ErrorCode::invalid_request);
    fails("10000\r\n", 66560, S3ErrorCode::invalid_request);           // signature missing
    fails(good.substr(0, 1000), 66560, S3ErrorCode::incomplete_body);  // truncated
    fails(good.substr(0, good.size() - 2), 66560, S3ErrorCode::incomplete_body);
    fails(good + "x", 66560, S3ErrorCode::invalid_request);  // trailing garbage
    fails(good, 66561, S3ErrorCode::incomplete_body);        // declared longer
    fails(good, 1000, S3ErrorCode::invalid_request);         // declared shorter
    std::string nocrlf = good;
    nocrlf.replace(nocrlf.find("\r\n400;"), 2, "XX");
    fails(nocrlf, 66560, S3ErrorCode::invalid_request);
    fails(std::string(5000, '1'), 66560, S3ErrorCode::invalid_request);  // endless line
}

TEST(AwsChunkedTest, UnsignedTrailerMode) {
    AwsChunkedDecoder::Options o;
    o.mode = PayloadMode::streaming_unsigned_trailer;
    o.decoded_length = 11;
    AwsChunkedDecoder d(o);
    std::string out;
    ASSERT_TRUE(
        d.feed("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", &out)
            .is_ok());
    ASSERT_TRUE(d.finish().is_ok());
    EXPECT_EQ(out, "hello world");
    ASSERT_EQ(d.trailers().size(), 1u);
    EXPECT_EQ(d.trailers()[0].first, "x-amz-checksum-crc32");
}

TEST(AwsChunkedTest, SignedTrailerModeOfTheDocumentedExample) {
    // AWS's documented example of STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.
    AwsChunkedDecoder::Options o;
    o.mode = PayloadMode::streaming_signed_trailer;
    o.signing = example_context();
    o.signing.seed_signature = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    o.decoded_length = 66560;
    std::string b;
    b += "10000;chunk-signature="
         "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n";
    b += std::string(65536, 'a') + "\r\n";
    b += "400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n";
    b += std::string(1024, 'a') + "\r\n";
    b += "0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n";
    std::string trailer =
        "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
    {
        AwsChunkedDecoder d(o);
        std::string out;
        ASSERT_TRUE(d.feed(b + trailer, &out).is_ok());
        ASSERT_TRUE(d.finish().is_ok());
        EXPECT_EQ(out.size(), 66560u);
    }
    {
        std::string bad = trailer;
        bad.replace(bad.find("sOO8"), 4, "AAAA");
        AwsChunkedDecoder d(o);
        std::string out;
        S3Status st = d.feed(b + bad, &out);
        ASSERT_FALSE(st.is_ok());
        EXPECT_EQ(st.error().code, S3ErrorCode::signature_does_not_match);
    }
}

TEST(AwsChunkedTest, EncodeDecodeRoundTripOfRandomPayloads) {
    uint64_t seed = test_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random rng(seed);
    for (int i = 0; i < 20; ++i) {
        std::string payload(rng.uniform(200000), '\0');
        for (char& c : payload) c = static_cast<char>(rng.uniform(256));
        size_t chunk = 1 + rng.uniform(70000);
        std::string body = aws_chunked_encode(payload, chunk, example_context());
        EXPECT_EQ(body.size(), aws_chunked_encoded_length(payload.size(), chunk));
        AwsChunkedDecoder d(options(payload.size()));
        std::string out;
        ASSERT_TRUE(d.feed(body, &out).is_ok());
        ASSERT_TRUE(d.finish().is_ok());
        EXPECT_EQ(out, payload);
    }
}

}  // namespace
}  // namespace cleave::s3
