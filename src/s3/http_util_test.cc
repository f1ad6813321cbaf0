#include "s3/http_util.h"

#include <gtest/gtest.h>

#include "s3/errors.h"

namespace cleave::s3 {
namespace {

TEST(HttpUtilTest, UriEncodeKeepsUnreservedOnly) {
    EXPECT_EQ(uri_encode("a-b_c.d~e/f g+h*", false), "a-b_c.d~e/f%20g%2Bh%2A");
    EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
    EXPECT_EQ(uri_encode("\xc3\xa9", false), "%C3%A9");
}

TEST(HttpUtilTest, PercentDecodeOnceAndRejectsBadEscapes) {
    EXPECT_EQ(percent_decode("a%2Fb%252F+c").value(), "a/b%2F+c");
    EXPECT_FALSE(percent_decode("a%2").has_value());
    EXPECT_FALSE(percent_decode("a%zz").has_value());
    EXPECT_EQ(percent_decode("%00").value(), std::string(1, '\0'));
}

TEST(HttpUtilTest, ParsesQueries) {
    auto q = parse_query("uploads&prefix=a%20b&max-keys=2&empty=");
    ASSERT_TRUE(q.has_value());
    ASSERT_EQ(q->size(), 4u);
    EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"uploads", ""}));
    EXPECT_EQ(*find_param(*q, "prefix"), "a b");
    EXPECT_EQ(*find_param(*q, "empty"), "");
    EXPECT_EQ(find_param(*q, "nope"), nullptr);
    EXPECT_TRUE(parse_query("")->empty());
    EXPECT_FALSE(parse_query("a=%G0").has_value());
}

TEST(HttpUtilTest, FormatsAndParsesDates) {
    const int64_t t = 1369353600000;  // 2013-05-24T00:00:00Z, a Friday
    EXPECT_EQ(format_amz_date(t), "20130524T000000Z");
    EXPECT_EQ(parse_amz_date("20130524T000000Z").value(), t);
    EXPECT_EQ(format_http_date(t), "Fri, 24 May 2013 00:00:00 GMT");
    EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT").value(), t);
    EXPECT_EQ(parse_http_date("Friday, 24-May-13 00:00:00 GMT").value(), t);
    EXPECT_EQ(parse_http_date("Fri May 24 00:00:00 2013").value(), t);
    EXPECT_EQ(format_iso8601(t + 123), "2013-05-24T00:00:00.123Z");
    EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_FALSE(parse_amz_date("2013-05-24").has_value());
    EXPECT_FALSE(parse_http_date("yesterday").has_value());
    // Round trips over many days, leap years included.
    for (int64_t d = 0; d < 30000; d += 7) {
        int64_t ms = d * 86400000 + 3723000;
        EXPECT_EQ(parse_http_date(format_http_date(ms)).value(), ms);
        EXPECT_EQ(parse_amz_date(format_amz_date(ms)).value(), ms);
    }
}

TEST(HttpUtilTest, Utf8Validation) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii \x01"));
    EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(is_valid_utf8("bad\xffkey"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_EQ(utf8_sequence_length("\xe2\x82\xac", 0), 3u);
}

TEST(HttpUtilTest, XmlEscapeReplacesBytesThatAreNotUtf8) {
    EXPECT_EQ(xml_escape("a\xff"
                         "b"),
              "a&#xFFFD;b");
    EXPECT_EQ(xml_escape("caf\xc3\xa9<"), "caf\xc3\xa9&lt;");
}

}  // namespace
}  // namespace cleave::s3
