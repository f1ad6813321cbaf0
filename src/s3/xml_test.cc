#include "s3/xml.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

namespace cleave::s3 {
namespace {

TEST(XmlTest, ParsesCompleteMultipartUpload) {
    auto parts = parse_complete_multipart(
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><PartNumber>1</PartNumber><ETag>\"aa\"</ETag></Part>"
        "<Part><ETag>&quot;bb&quot;</ETag><PartNumber> 2 </PartNumber></Part>"
        "</CompleteMultipartUpload>");
    ASSERT_TRUE(parts.is_ok()) << parts.error().effective_message();
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].part_number, 1u);
    EXPECT_EQ((*parts)[0].etag, "aa");
    EXPECT_EQ((*parts)[1].part_number, 2u);
    EXPECT_EQ((*parts)[1].etag, "bb");
}

TEST(XmlTest, MalformedBodiesAreMalformedXml) {
    for (std::string_view body :
         {"", "<CompleteMultipartUpload>", "not xml", "<Other><Part/></Other>",
          "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber>"
          "<ETag>a</ETag></Part></CompleteMultipartUpload>",
          "<CompleteMultipartUpload><Part><ETag>a</ETag></Part>"
          "</CompleteMultipartUpload>",
          "<CompleteMultipartUpload></CompleteMultipartUpload>"}) {
        auto r = parse_complete_multipart(body);
        ASSERT_FALSE(r.is_ok()) << body;
        EXPECT_EQ(r.error().code, S3ErrorCode::malformed_xml) << body;
    }
    EXPECT_EQ(parse_delete_objects("<Delete><Object/></Delete>").error().code,
              S3ErrorCode::malformed_xml);
    EXPECT_EQ(parse_delete_objects("<Delete></Delete>").error().code, S3ErrorCode::malformed_xml);
    EXPECT_EQ(parse_create_bucket_configuration("<Bad>").error().code, S3ErrorCode::malformed_xml);
}

TEST(XmlTest, ParsesDeleteObjectsKeepingKeysVerbatim) {
    auto d = parse_delete_objects(
        "<?xml version=\"1.0\"?><Delete><Quiet>true</Quiet>"
        "<Object><Key> spaced key </Key></Object><Object><Key>a&amp;b&#13;</Key>"
        "<VersionId>x</VersionId></Object></Delete>");
    ASSERT_TRUE(d.is_ok()) << d.error().effective_message();
    EXPECT_TRUE(d->quiet);
    ASSERT_EQ(d->keys.size(), 2u);
    EXPECT_EQ(d->keys[0], " spaced key ");
    EXPECT_EQ(d->keys[1], "a&b\r");
    std::string many = "<Delete>";
    for (int i = 0; i < 1001; ++i) many += "<Object><Key>k</Key></Object>";
    many += "</Delete>";
    EXPECT_EQ(parse_delete_objects(many).error().code, S3ErrorCode::malformed_xml);
}

TEST(XmlTest, CreateBucketConfigurationIsTolerated) {
    EXPECT_EQ(parse_create_bucket_configuration("").value(), "");
    EXPECT_EQ(parse_create_bucket_configuration(
                  "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")
                  .value(),
              "eu-west-1");
}

// Parses rendered XML back, so the tests check structure, not spacing.
pugi::xml_node parse(pugi::xml_document& doc, const std::string& xml) {
    EXPECT_TRUE(doc.load_string(xml.c_str())) << xml;
    return doc.document_element();
}

TEST(XmlTest, RendersListObjectsV2WithUrlEncoding) {
    ListObjectsParams p;
    p.bucket = "b";
    p.prefix = "a b/";
    p.delimiter = "/";
    p.max_keys = 2;
    p.url_encode = true;
    p.continuation_token = "tok";
    service::ListResult r;
    service::ObjectInfo o;
    o.key = "a b/c+d\x01";
    o.size = 5;
    o.etag = "abc";
    o.last_modified_ms = 1369353600000;
    r.objects.push_back(o);
    r.common_prefixes.push_back("a b/sub/");
    r.is_truncated = true;
    pugi::xml_document doc;
    auto root = parse(doc, render_list_objects_v2(p, r, "next", {}));
    EXPECT_STREQ(root.name(), "ListBucketResult");
    EXPECT_STREQ(root.child("Prefix").text().get(), "a%20b/");
    EXPECT_STREQ(root.child("KeyCount").text().get(), "2");
    EXPECT_STREQ(root.child("IsTruncated").text().get(), "true");
    EXPECT_STREQ(root.child("NextContinuationToken").text().get(), "next");
    EXPECT_STREQ(root.child("ContinuationToken").text().get(), "tok");
    EXPECT_STREQ(root.child("EncodingType").text().get(), "url");
    EXPECT_STREQ(root.child("Contents").child("Key").text().get(), "a%20b/c%2Bd%01");
    EXPECT_STREQ(root.child("Contents").child("ETag").text().get(), "\"abc\"");
    EXPECT_STREQ(root.child("Contents").child("LastModified").text().get(),
                 "2013-05-24T00:00:00.000Z");
    EXPECT_STREQ(root.child("Contents").child("Size").text().get(), "5");
    EXPECT_FALSE(root.child("Contents").child("Owner"));
    EXPECT_STREQ(root.child("CommonPrefixes").child("Prefix").text().get(), "a%20b/sub/");
}

TEST(XmlTest, RendersListObjectsV1AndEscapesKeys) {
    ListObjectsParams p;
    p.bucket = "b";
    p.marker = "m<";
    service::ListResult r;
    service::ObjectInfo o;
    o.key = "x&<y>\"'";
    r.objects.push_back(o);
    pugi::xml_document doc;
    auto root = parse(doc, render_list_objects_v1(p, r, "", {}));
    EXPECT_STREQ(root.child("Marker").text().get(), "m<");
    EXPECT_STREQ(root.child("Contents").child("Key").text().get(), "x&<y>\"'");
    EXPECT_TRUE(root.child("Contents").child("Owner"));
    EXPECT_STREQ(root.child("IsTruncated").text().get(), "false");
    EXPECT_FALSE(root.child("NextMarker"));
}

TEST(XmlTest, RendersTheOtherDocuments) {
    pugi::xml_document d1;
    auto lb = parse(d1, render_list_buckets({{"b1", 0}, {"b2", 1000}}, {}));
    EXPECT_STREQ(lb.name(), "ListAllMyBucketsResult");
    EXPECT_STREQ(lb.child("Buckets").last_child().child("Name").text().get(), "b2");
    pugi::xml_document d2;
    auto init = parse(d2, render_initiate_multipart("b", "k", "u1"));
    EXPECT_STREQ(init.child("UploadId").text().get(), "u1");
    pugi::xml_document d3;
    auto comp = parse(d3, render_complete_multipart("/b/k", "b", "k", "e-2"));
    EXPECT_STREQ(comp.child("ETag").text().get(), "\"e-2\"");
    pugi::xml_document d4;
    service::ListPartsResult parts;
    parts.parts.push_back({1, 10, "p1", 0});
    auto lp = parse(d4, render_list_parts({"b", "k", "u", 0, 1000}, parts, {}));
    EXPECT_STREQ(lp.child("Part").child("ETag").text().get(), "\"p1\"");
    EXPECT_STREQ(lp.child("NextPartNumberMarker").text().get(), "1");
    pugi::xml_document d5;
    auto del =
        parse(d5, render_delete_result({"a"}, {{"b", s3_error(S3ErrorCode::access_denied)}}));
    EXPECT_STREQ(del.child("Deleted").child("Key").text().get(), "a");
    EXPECT_STREQ(del.child("Error").child("Code").text().get(), "AccessDenied");
    pugi::xml_document d6;
    auto loc = parse(d6, render_location_constraint("us-east-1"));
    EXPECT_STREQ(loc.text().get(), "");
    pugi::xml_document d7;
    auto cp = parse(d7, render_copy_object_result("e", 0));
    EXPECT_STREQ(cp.child("ETag").text().get(), "\"e\"");
    pugi::xml_document d8;
    service::ListUploadsResult ups;
    ups.uploads.push_back({"k", "u", 0});
    ListUploadsParams up;
    up.bucket = "b";
    auto lu = parse(d8, render_list_uploads(up, ups, {}));
    EXPECT_STREQ(lu.child("Upload").child("UploadId").text().get(), "u");
}

}  // namespace
}  // namespace cleave::s3
