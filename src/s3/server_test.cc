#include "s3/server.h"

#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "common/hash.h"
#include "s3/fake_object_service_test_util.h"
#include "s3/s3_client_test_util.h"
#include "s3/sigv4.h"
#include "s3/xml.h"

namespace cleave::s3 {
namespace {

using testing::FakeObjectService;
using testing::SignMode;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;

const Credentials kCreds{"AKIACLEAVETEST", "cleave-test-secret-key"};

class ServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(creds_.add(kCreds.access_key, kCreds.secret_key).is_ok());
        ServerConfig config;
        config.listen_port = 0;
        config.threads = 4;
        config.virtual_host_suffixes = {"s3.example.test"};
        server_ = std::make_unique<Server>(config, service_, creds_);
        ASSERT_TRUE(server_->start().is_ok());
        ASSERT_NE(server_->port(), 0);
        client_ = std::make_unique<TestClient>(server_->port(), kCreds);
    }
    void TearDown() override { server_->stop(); }

    void make_bucket(const std::string& b) {
        TestResponse r = client_->put("/" + b, "");
        ASSERT_EQ(r.status, 200) << r.body;
    }
    static pugi::xml_node xml(pugi::xml_document& doc, const TestResponse& r) {
        EXPECT_TRUE(doc.load_string(r.body.c_str())) << r.body;
        return doc.document_element();
    }

    FakeObjectService service_;
    StaticCredentialProvider creds_;
    std::unique_ptr<Server> server_;
    std::unique_ptr<TestClient> client_;
};

TEST_F(ServerTest, BucketLifecycle) {
    EXPECT_EQ(client_->put("/Bad_Name", "").error_code(), "InvalidBucketName");
    EXPECT_EQ(client_->put("/ab", "").error_code(), "InvalidBucketName");
    EXPECT_EQ(client_->put("/192.168.1.1", "").error_code(), "InvalidBucketName");
    make_bucket("alpha");
    TestResponse again = client_->put("/alpha", "");
    EXPECT_EQ(again.status, 409);
    EXPECT_EQ(again.error_code(), "BucketAlreadyOwnedByYou");
    EXPECT_EQ(client_->head("/alpha").status, 200);
    EXPECT_EQ(client_->head("/missing").status, 404);
    EXPECT_EQ(client_->head("/missing").body, "");

    TestResponse list = client_->get("/");
    ASSERT_EQ(list.status, 200);
    pugi::xml_document doc;
    EXPECT_STREQ(xml(doc, list).child("Buckets").child("Bucket").child("Name").text().get(),
                 "alpha");
    EXPECT_EQ(list.header("server"), "Cleave");
    EXPECT_FALSE(list.header("x-amz-request-id").empty());

    TestResponse loc = client_->get("/alpha?location");
    EXPECT_EQ(loc.status, 200);
    EXPECT_NE(loc.body.find("LocationConstraint"), std::string::npos);

    ASSERT_EQ(client_->put("/alpha/k", "x").status, 200);
    TestResponse not_empty = client_->del("/alpha");
    EXPECT_EQ(not_empty.status, 409);
    EXPECT_EQ(not_empty.error_code(), "BucketNotEmpty");
    EXPECT_EQ(client_->del("/alpha/k").status, 204);
    EXPECT_EQ(client_->del("/alpha").status, 204);
    TestResponse gone = client_->get("/alpha?list-type=2");
    EXPECT_EQ(gone.status, 404);
    EXPECT_EQ(gone.error_code(), "NoSuchBucket");
    // All of it over one kept-alive connection.
    EXPECT_EQ(client_->connections_opened(), 1);
}

TEST_F(ServerTest, PutGetHeadDeleteWithMetadata) {
    make_bucket("bkt");
    std::string body = "hello, cleave";
    TestResponse put = client_->put("/bkt/dir/file.txt", body,
                                    {{"Content-Type", "text/plain"},
                                     {"x-amz-meta-Color", "blue"},
                                     {"Cache-Control", "no-cache"},
                                     {"Content-MD5", base64_encode(md5(body))}});
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.header("etag"), "\"" + to_hex(md5(body)) + "\"");

    TestResponse get = client_->get("/bkt/dir/file.txt");
    ASSERT_EQ(get.status, 200);
    EXPECT_EQ(get.body, body);
    EXPECT_EQ(get.header("content-type"), "text/plain");
    EXPECT_EQ(get.header("x-amz-meta-color"), "blue");
    EXPECT_EQ(get.header("cache-control"), "no-cache");
    EXPECT_EQ(get.header("accept-ranges"), "bytes");
    EXPECT_EQ(get.header("etag"), put.header("etag"));
    EXPECT_FALSE(get.header("last-modified").empty());
    EXPECT_TRUE(parse_http_date(get.header("last-modified")).has_value());

    TestResponse head = client_->head("/bkt/dir/file.txt");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), std::to_string(body.size()));
    EXPECT_EQ(head.body, "");

    TestResponse over = client_->get("/bkt/dir/file.txt?response-content-type=app/x");
    EXPECT_EQ(over.header("content-type"), "app/x");

    EXPECT_EQ(client_->del("/bkt/dir/file.txt").status, 204);
    EXPECT_EQ(client_->del("/bkt/dir/file.txt").status, 204);  // absent: still OK
    TestResponse missing = client_->get("/bkt/dir/file.txt");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.error_code(), "NoSuchKey");
}

TEST_F(ServerTest, DigestsAndLimitsAreChecked) {
    make_bucket("bkt");
    TestResponse bad_md5 =
        client_->put("/bkt/k", "data", {{"Content-MD5", base64_encode(md5("other"))}});
    EXPECT_EQ(bad_md5.status, 400);
    EXPECT_EQ(bad_md5.error_code(), "BadDigest");
    EXPECT_EQ(client_->put("/bkt/k", "data", {{"Content-MD5", "notbase64!"}}).error_code(),
              "InvalidDigest");
    // Declared larger than a single PUT may be: refused before any byte is read.
    TestResponse too_big = client_->send(
        {.method = "PUT",
         .target = "/bkt/huge",
         .body = "x",
         .headers = {{"x-amz-decoded-content-length", std::to_string((5ULL << 30) + 1)}},
         .sign = SignMode::streaming});
    EXPECT_EQ(too_big.error_code(), "EntityTooLarge") << too_big.body;
    EXPECT_EQ(service_.object_count("bkt"), 0u);

    std::string meta(2100, 'm');
    EXPECT_EQ(client_->put("/bkt/k3", "x", {{"x-amz-meta-big", meta}}).error_code(),
              "MetadataTooLarge");
    std::string long_key(1025, 'k');
    EXPECT_EQ(client_->put("/bkt/" + long_key, "x").error_code(), "KeyTooLongError");
    EXPECT_EQ(client_->put("/bkt/" + std::string(1024, 'k'), "x").status, 200);
}

TEST_F(ServerTest, Sha256MismatchIsRefused) {
    make_bucket("bkt");
    // Sign a body, send another one of the same length.
    SigV4Request s;
    s.method = "PUT";
    s.raw_path = "/bkt/k";
    std::string host = "127.0.0.1:" + std::to_string(server_->port());
    s.headers = {{"Host", host}};
    ASSERT_TRUE(sign_request(s, to_hex(sha256("aaaa")), kCreds,
                             {.now_ms = SystemClock::instance().now_unix_ms()})
                    .is_ok());
    std::string raw = "PUT /bkt/k HTTP/1.1\r\n";
    for (const auto& [n, v] : s.headers) raw += n + ": " + v + "\r\n";
    raw += "Content-Length: 4\r\n\r\nbbbb";
    std::string reply = testing::raw_exchange(server_->port(), raw, 5000, true);
    EXPECT_NE(reply.find("400"), std::string::npos) << reply;
    EXPECT_NE(reply.find("XAmzContentSHA256Mismatch"), std::string::npos) << reply;
    EXPECT_EQ(service_.object_count("bkt"), 0u);
}

TEST_F(ServerTest, RangesAndConditionals) {
    make_bucket("bkt");
    std::string body = "0123456789";
    TestResponse put = client_->put("/bkt/r", body);
    std::string etag = put.header("etag");

    TestResponse part = client_->send({.target = "/bkt/r", .headers = {{"Range", "bytes=2-5"}}});
    EXPECT_EQ(part.status, 206);
    EXPECT_EQ(part.body, "2345");
    EXPECT_EQ(part.header("content-range"), "bytes 2-5/10");
    TestResponse suffix = client_->send({.target = "/bkt/r", .headers = {{"Range", "bytes=-3"}}});
    EXPECT_EQ(suffix.body, "789");
    TestResponse open = client_->send({.target = "/bkt/r", .headers = {{"Range", "bytes=7-"}}});
    EXPECT_EQ(open.body, "789");
    TestResponse clamp = client_->send({.target = "/bkt/r", .headers = {{"Range", "bytes=8-100"}}});
    EXPECT_EQ(clamp.body, "89");
    TestResponse bad = client_->send({.target = "/bkt/r", .headers = {{"Range", "bytes=10-"}}});
    EXPECT_EQ(bad.status, 416);
    EXPECT_EQ(bad.error_code(), "InvalidRange");
    EXPECT_EQ(bad.header("content-range"), "bytes */10");

    auto status_with = [&](std::string name, std::string value, std::string method = "GET") {
        return client_->send({.method = method, .target = "/bkt/r", .headers = {{name, value}}})
            .status;
    };
    EXPECT_EQ(status_with("If-Match", etag), 200);
    EXPECT_EQ(status_with("If-Match", "\"nope\""), 412);
    EXPECT_EQ(status_with("If-None-Match", etag), 304);
    EXPECT_EQ(status_with("If-None-Match", etag, "HEAD"), 304);
    EXPECT_EQ(status_with("If-None-Match", "\"nope\""), 200);
    int64_t now = SystemClock::instance().now_unix_ms();
    EXPECT_EQ(status_with("If-Modified-Since", format_http_date(now + 3600000)), 304);
    EXPECT_EQ(status_with("If-Modified-Since", format_http_date(now - 3600000)), 200);
    EXPECT_EQ(status_with("If-Unmodified-Since", format_http_date(now - 3600000)), 412);
    EXPECT_EQ(status_with("If-Unmodified-Since", format_http_date(now + 3600000)), 200);
    // RFC 7232: If-Match wins over If-Unmodified-Since.
    EXPECT_EQ(client_
                  ->send({.target = "/bkt/r",
                          .headers = {{"If-Match", etag},
                                      {"If-Unmodified-Since", format_http_date(now - 3600000)}}})
                  .status,
              200);

    // Conditional create.
    TestResponse first = client_->put("/bkt/once", "1", {{"If-None-Match", "*"}});
    EXPECT_EQ(first.status, 200);
    TestResponse second = client_->put("/bkt/once", "2", {{"If-None-Match", "*"}});
    EXPECT_EQ(second.status, 412);
    EXPECT_EQ(second.error_code(), "PreconditionFailed");
    EXPECT_EQ(client_->get("/bkt/once").body, "1");
}

TEST_F(ServerTest, AwkwardKeysRoundTripExactly) {
    make_bucket("bkt");
    const std::vector<std::string> keys = {
        "../escape",       "a//b",        "dir/./x",
        "pct%2Fenc",       "sp ace+plus", "unicod\xc3\xa9/\xe2\x82\xac",
        "ctl\x01\x1f\x7f", "q?x=1&y",     "#hash",
        "trailing/",       "%",           "tab\tnl\n",
    };
    for (const auto& key : keys) {
        std::string target = "/bkt/" + uri_encode(key, false);
        TestResponse put = client_->put(target, "v:" + key);
        ASSERT_EQ(put.status, 200) << key << " " << put.body;
        TestResponse get = client_->get(target);
        EXPECT_EQ(get.body, "v:" + key) << key;
    }
    TestResponse list = client_->get("/bkt?list-type=2&encoding-type=url");
    ASSERT_EQ(list.status, 200);
    pugi::xml_document doc;
    std::set<std::string> listed;
    for (auto c : xml(doc, list).children("Contents"))
        listed.insert(percent_decode(c.child("Key").text().get()).value());
    EXPECT_EQ(listed, std::set<std::string>(keys.begin(), keys.end()));
    EXPECT_EQ(client_->get("/bkt/" + uri_encode("a/b", false)).status, 404);
}

TEST_F(ServerTest, ListingV1AndV2WithDelimiterAndPagination) {
    make_bucket("bkt");
    for (const char* k : {"a/1", "a/2", "bkt/1", "c", "d", "e/f/g"})
        ASSERT_EQ(client_->put(std::string("/bkt/") + k, "x").status, 200);
    // V2, one entry per page, with a delimiter.
    std::vector<std::string> seen;
    std::string token;
    for (int page = 0; page < 10; ++page) {
        std::string target = "/bkt?list-type=2&delimiter=%2F&max-keys=1";
        if (!token.empty()) target += "&continuation-token=" + uri_encode(token, true);
        TestResponse r = client_->get(target);
        ASSERT_EQ(r.status, 200) << r.body;
        pugi::xml_document doc;
        auto root = xml(doc, r);
        EXPECT_STREQ(root.child("KeyCount").text().get(), "1");
        for (auto c : root.children("Contents")) seen.push_back(c.child("Key").text().get());
        for (auto c : root.children("CommonPrefixes"))
            seen.push_back(c.child("Prefix").text().get());
        if (std::string(root.child("IsTruncated").text().get()) != "true") break;
        token = root.child("NextContinuationToken").text().get();
        ASSERT_FALSE(token.empty());
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"a/", "bkt/", "c", "d", "e/"}));

    // V1 with a marker and a prefix.
    TestResponse v1 = client_->get("/bkt?prefix=a%2F&marker=a%2F1");
    pugi::xml_document doc;
    auto root = xml(doc, v1);
    EXPECT_STREQ(root.child("Contents").child("Key").text().get(), "a/2");
    EXPECT_STREQ(root.child("Marker").text().get(), "a/1");
    // V2 start-after.
    TestResponse sa = client_->get("/bkt?list-type=2&start-after=c");
    pugi::xml_document doc2;
    EXPECT_STREQ(xml(doc2, sa).child("Contents").child("Key").text().get(), "d");
    EXPECT_EQ(client_->get("/bkt?list-type=2&max-keys=x").error_code(), "InvalidArgument");
    EXPECT_EQ(client_->get("/bkt?list-type=2&encoding-type=zip").error_code(), "InvalidArgument");
    EXPECT_EQ(client_->get("/bkt?list-type=2&continuation-token=%21%21").error_code(),
              "InvalidArgument");
}

TEST_F(ServerTest, MultipartUpload) {
    make_bucket("bkt");
    service_.set_min_part_bytes(5);
    TestResponse init = client_->post("/bkt/big?uploads", "");
    ASSERT_EQ(init.status, 200) << init.body;
    pugi::xml_document doc;
    std::string id = xml(doc, init).child("UploadId").text().get();
    ASSERT_FALSE(id.empty());
    std::string uid = "uploadId=" + uri_encode(id, true);

    TestResponse p1 = client_->put("/bkt/big?partNumber=1&" + uid, "hello");
    TestResponse p2 = client_->put("/bkt/big?partNumber=2&" + uid, " world");
    ASSERT_EQ(p1.status, 200) << p1.body;
    ASSERT_EQ(p2.status, 200);
    EXPECT_EQ(client_->put("/bkt/big?partNumber=0&" + uid, "x").error_code(), "InvalidArgument");
    EXPECT_EQ(client_->put("/bkt/big?partNumber=10001&" + uid, "x").error_code(),
              "InvalidArgument");
    EXPECT_EQ(client_->put("/bkt/big?partNumber=1&uploadId=nope", "x").error_code(),
              "NoSuchUpload");

    TestResponse parts = client_->get("/bkt/big?" + uid);
    pugi::xml_document pd;
    auto proot = xml(pd, parts);
    EXPECT_STREQ(proot.child("Part").child("ETag").text().get(), p1.header("etag").c_str());

    TestResponse uploads = client_->get("/bkt?uploads");
    pugi::xml_document ud;
    EXPECT_STREQ(xml(ud, uploads).child("Upload").child("UploadId").text().get(), id.c_str());

    EXPECT_EQ(client_->post("/bkt/big?" + uid, "<CompleteMultipartUpload><Part>").error_code(),
              "MalformedXML");
    std::string out_of_order = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>" +
                               p2.header("etag") +
                               "</ETag></Part><Part><PartNumber>1</PartNumber><ETag>" +
                               p1.header("etag") + "</ETag></Part></CompleteMultipartUpload>";
    EXPECT_EQ(client_->post("/bkt/big?" + uid, out_of_order).error_code(), "InvalidPartOrder");

    std::string complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                           p1.header("etag") +
                           "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" +
                           p2.header("etag") + "</ETag></Part></CompleteMultipartUpload>";
    TestResponse done = client_->post("/bkt/big?" + uid, complete);
    ASSERT_EQ(done.status, 200) << done.body;
    pugi::xml_document dd;
    std::string etag = xml(dd, done).child("ETag").text().get();
    std::string raw1, raw2;
    from_hex(unquote_etag(p1.header("etag")), &raw1);
    from_hex(unquote_etag(p2.header("etag")), &raw2);
    EXPECT_EQ(etag, "\"" + to_hex(md5(raw1 + raw2)) + "-2\"");
    TestResponse get = client_->get("/bkt/big");
    EXPECT_EQ(get.body, "hello world");
    EXPECT_EQ(get.header("etag"), etag);

    // Abort, and EntityTooSmall from the service's rule.
    TestResponse init2 = client_->post("/bkt/small?uploads", "");
    pugi::xml_document d2;
    std::string uid2 = "uploadId=" + std::string(xml(d2, init2).child("UploadId").text().get());
    TestResponse s1 = client_->put("/bkt/small?partNumber=1&" + uid2, "ab");
    TestResponse s2 = client_->put("/bkt/small?partNumber=2&" + uid2, "cd");
    std::string small = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                        s1.header("etag") + "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" +
                        s2.header("etag") + "</ETag></Part></CompleteMultipartUpload>";
    EXPECT_EQ(client_->post("/bkt/small?" + uid2, small).error_code(), "EntityTooSmall");
    EXPECT_EQ(client_->del("/bkt/small?" + uid2).status, 204);
    EXPECT_EQ(client_->del("/bkt/small?" + uid2).error_code(), "NoSuchUpload");
}

TEST_F(ServerTest, DeleteObjectsAndCopy) {
    make_bucket("bkt");
    for (const char* k : {"x", "y", "z"})
        ASSERT_EQ(client_->put(std::string("/bkt/") + k, k).status, 200);
    std::string body =
        "<Delete><Object><Key>x</Key></Object><Object><Key>y</Key></Object>"
        "<Object><Key>absent</Key></Object></Delete>";
    TestResponse r = client_->send({.method = "POST",
                                    .target = "/bkt?delete",
                                    .body = body,
                                    .headers = {{"Content-MD5", base64_encode(md5(body))}}});
    ASSERT_EQ(r.status, 200) << r.body;
    pugi::xml_document doc;
    int deleted = 0;
    for ([[maybe_unused]] auto d : xml(doc, r).children("Deleted")) ++deleted;
    EXPECT_EQ(deleted, 3);
    EXPECT_EQ(service_.object_count("bkt"), 1u);
    TestResponse quiet = client_->post(
        "/bkt?delete", "<Delete><Quiet>true</Quiet><Object><Key>z</Key></Object></Delete>");
    EXPECT_EQ(quiet.body.find("<Deleted>"), std::string::npos);
    EXPECT_EQ(client_->post("/bkt?delete", "<Delete>").error_code(), "MalformedXML");
    EXPECT_EQ(client_
                  ->send({.method = "POST",
                          .target = "/bkt?delete",
                          .body = body,
                          .headers = {{"Content-MD5", base64_encode(md5("x"))}}})
                  .error_code(),
              "BadDigest");

    ASSERT_EQ(
        client_->put("/bkt/src key", "copy me", {{"Content-Type", "text/a"}, {"x-amz-meta-a", "1"}})
            .status,
        400);
    ASSERT_EQ(
        client_
            ->put("/bkt/src%20key", "copy me", {{"Content-Type", "text/a"}, {"x-amz-meta-a", "1"}})
            .status,
        200);
    TestResponse copy = client_->put("/bkt/dst", "", {{"x-amz-copy-source", "/bkt/src%20key"}});
    ASSERT_EQ(copy.status, 200) << copy.body;
    EXPECT_NE(copy.body.find("CopyObjectResult"), std::string::npos);
    TestResponse got = client_->get("/bkt/dst");
    EXPECT_EQ(got.body, "copy me");
    EXPECT_EQ(got.header("x-amz-meta-a"), "1");
    TestResponse replaced = client_->put("/bkt/dst2", "",
                                         {{"x-amz-copy-source", "bkt/src%20key"},
                                          {"x-amz-metadata-directive", "REPLACE"},
                                          {"Content-Type", "text/b"}});
    ASSERT_EQ(replaced.status, 200);
    TestResponse got2 = client_->get("/bkt/dst2");
    EXPECT_EQ(got2.header("content-type"), "text/b");
    EXPECT_EQ(got2.header("x-amz-meta-a"), "");
    EXPECT_EQ(
        client_->put("/bkt/src%20key", "", {{"x-amz-copy-source", "bkt/src%20key"}}).error_code(),
        "InvalidRequest");
    EXPECT_EQ(client_->put("/bkt/d3", "", {{"x-amz-copy-source", "bkt/nope"}}).error_code(),
              "NoSuchKey");
    EXPECT_EQ(client_
                  ->put("/bkt/d3", "",
                        {{"x-amz-copy-source", "bkt/src%20key"},
                         {"x-amz-copy-source-if-match", "\"wrong\""}})
                  .status,
              412);
}

TEST_F(ServerTest, AuthenticationFailures) {
    make_bucket("bkt");
    TestResponse anon = client_->send({.target = "/bkt/k", .sign = SignMode::none});
    EXPECT_EQ(anon.status, 403);
    EXPECT_EQ(anon.error_code(), "AccessDenied");
    TestResponse wrong = client_->send(
        {.target = "/bkt/k", .credentials = Credentials{kCreds.access_key, "wrong-secret-key"}});
    EXPECT_EQ(wrong.status, 403);
    EXPECT_EQ(wrong.error_code(), "SignatureDoesNotMatch");
    TestResponse unknown = client_->send(
        {.target = "/bkt/k", .credentials = Credentials{"AKIAUNKNOWN", "whatever-secret"}});
    EXPECT_EQ(unknown.status, 403);
    EXPECT_EQ(unknown.error_code(), "InvalidAccessKeyId");
    // Unsigned payloads are accepted.
    EXPECT_EQ(client_
                  ->send({.method = "PUT",
                          .target = "/bkt/u",
                          .body = "unsigned",
                          .sign = SignMode::unsigned_payload})
                  .status,
              200);
}

TEST_F(ServerTest, PresignedUrls) {
    make_bucket("bkt");
    ASSERT_EQ(client_->put("/bkt/p", "presigned body").status, 200);
    int64_t now = SystemClock::instance().now_unix_ms();
    TestResponse ok = client_->send(
        {.target = client_->presign("GET", "/bkt/p", 60, now), .sign = SignMode::none});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "presigned body");
    TestResponse expired = client_->send(
        {.target = client_->presign("GET", "/bkt/p", 1, now - 10000), .sign = SignMode::none});
    EXPECT_EQ(expired.status, 403);
    EXPECT_NE(expired.body.find("Request has expired"), std::string::npos) << expired.body;
    std::string tampered = client_->presign("GET", "/bkt/p", 60, now);
    tampered.replace(tampered.find("/bkt/p"), 6, "/bkt/q");
    EXPECT_EQ(client_->send({.target = tampered, .sign = SignMode::none}).error_code(),
              "SignatureDoesNotMatch");
}

TEST_F(ServerTest, StreamingUploadsWithChunkSignatures) {
    make_bucket("bkt");
    std::string body(300000, '\0');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 % 251);
    TestResponse r = client_->send({.method = "PUT",
                                    .target = "/bkt/streamed",
                                    .body = body,
                                    .sign = SignMode::streaming,
                                    .chunk_bytes = 65536});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("etag"), "\"" + to_hex(md5(body)) + "\"");
    EXPECT_EQ(client_->get("/bkt/streamed").body, body);

    // A chunk signature that does not match: refused, nothing stored, and the
    // server keeps serving.
    std::string host = "127.0.0.1:" + std::to_string(server_->port());
    SigV4Request s;
    s.method = "PUT";
    s.raw_path = "/bkt/badchunk";
    s.headers = {
        {"Host", host}, {"Content-Encoding", "aws-chunked"}, {"x-amz-decoded-content-length", "5"}};
    int64_t now = SystemClock::instance().now_unix_ms();
    std::string seed = sign_request(s, kStreamingSignedPayload, kCreds, {.now_ms = now}).value();
    (void)seed;
    std::string chunked = "5;chunk-signature=" + std::string(64, 'a') +
                          "\r\nhello\r\n0;chunk-signature=" + std::string(64, 'b') + "\r\n\r\n";
    std::string raw = "PUT /bkt/badchunk HTTP/1.1\r\n";
    for (const auto& [n, v] : s.headers) raw += n + ": " + v + "\r\n";
    raw += "Content-Length: " + std::to_string(chunked.size()) + "\r\n\r\n" + chunked;
    std::string reply = testing::raw_exchange(server_->port(), raw, 5000, true);
    EXPECT_NE(reply.find("403"), std::string::npos) << reply;
    EXPECT_NE(reply.find("SignatureDoesNotMatch"), std::string::npos) << reply;
    EXPECT_EQ(client_->get("/bkt/badchunk").status, 404);
}

TEST_F(ServerTest, BadInputNeverStopsTheServer) {
    make_bucket("bkt");
    uint16_t port = server_->port();
    // Oversized header section: 400 and the connection closes.
    std::string big =
        "GET /bkt/k HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    std::string reply = testing::raw_exchange(port, big);
    EXPECT_NE(reply.find("400"), std::string::npos);
    EXPECT_NE(reply.find("RequestHeaderSectionTooLarge"), std::string::npos) << reply;
    // Garbage instead of HTTP.
    reply = testing::raw_exchange(port, "\x01\x02 nonsense\r\n\r\n");
    EXPECT_NE(reply.find("400"), std::string::npos) << reply;
    // A truncated body: the client promises 1000 bytes, sends 10 and leaves.
    {
        SigV4Request s;
        s.method = "PUT";
        s.raw_path = "/bkt/truncated";
        s.headers = {{"Host", "127.0.0.1:" + std::to_string(port)}};
        ASSERT_TRUE(sign_request(s, kUnsignedPayload, kCreds,
                                 {.now_ms = SystemClock::instance().now_unix_ms()})
                        .is_ok());
        std::string raw = "PUT /bkt/truncated HTTP/1.1\r\n";
        for (const auto& [n, v] : s.headers) raw += n + ": " + v + "\r\n";
        raw += "Content-Length: 1000\r\n\r\n0123456789";
        testing::raw_exchange(port, raw, 2000, true);
    }
    EXPECT_EQ(client_->get("/bkt/truncated").status, 404);
    // Unknown sub-resources and methods.
    EXPECT_EQ(client_->get("/bkt?acl").error_code(), "NotImplemented");
    EXPECT_EQ(client_->get("/bkt?acl").status, 501);
    EXPECT_EQ(client_->send({.method = "PATCH", .target = "/bkt/k"}).status, 405);
    EXPECT_EQ(client_->get("/bkt/k%zz").status, 400);
    // Still serving.
    EXPECT_EQ(client_->put("/bkt/after", "alive").status, 200);
    EXPECT_EQ(client_->get("/bkt/after").body, "alive");
}

TEST_F(ServerTest, VirtualHostAddressing) {
    make_bucket("vhost");
    std::string port = std::to_string(server_->port());
    TestResponse put = client_->send(
        {.method = "PUT", .target = "/a/key", .body = "vh", .host = "vhost.localhost:" + port});
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(client_->get("/vhost/a/key").body, "vh");
    TestResponse list = client_->send({.target = "/?list-type=2", .host = "vhost.s3.example.test"});
    EXPECT_NE(list.body.find("<Key>a/key</Key>"), std::string::npos) << list.body;
    TestResponse nested = client_->send({.target = "/a/key", .host = "vhost.s3.localhost:" + port});
    EXPECT_EQ(nested.body, "vh");
}

TEST_F(ServerTest, LargeBodiesStreamInPieces) {
    make_bucket("bkt");
    service_.set_read_piece_bytes(100000);
    std::string body(3 * 1024 * 1024 + 17, 'z');
    for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>(i / 4096);
    ASSERT_EQ(client_->put("/bkt/large", body).status, 200);
    TestResponse get = client_->get("/bkt/large");
    EXPECT_EQ(get.body.size(), body.size());
    EXPECT_TRUE(get.body == body);
    TestResponse range =
        client_->send({.target = "/bkt/large", .headers = {{"Range", "bytes=1000000-2999999"}}});
    EXPECT_EQ(range.status, 206);
    EXPECT_TRUE(range.body == body.substr(1000000, 2000000));
}

TEST_F(ServerTest, FailureMidStreamCutsTheConnection) {
    make_bucket("bkt");
    service_.set_read_piece_bytes(1000);
    ASSERT_EQ(client_->put("/bkt/bad", std::string(5000, 'q')).status, 200);
    service_.fail_next_get(Status::corruption("chunk deadbeef failed verification"));
    TestResponse r = client_->get("/bkt/bad");
    EXPECT_NE(r.status, 200);  // the read fails: the body was cut short
    EXPECT_EQ(client_->get("/bkt/bad").body.size(), 5000u);
}

TEST_F(ServerTest, ExpectContinueAndConcurrentClients) {
    make_bucket("bkt");
    TestResponse r = client_->put("/bkt/expect", "with expect", {{"Expect", "100-continue"}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(client_->get("/bkt/expect").body, "with expect");

    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            TestClient c(server_->port(), kCreds);
            for (int i = 0; i < 20; ++i) {
                std::string key = "/bkt/c" + std::to_string(t) + "-" + std::to_string(i);
                if (c.put(key, key).status == 200 && c.get(key).body == key) ++ok;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 160);
}

TEST_F(ServerTest, StopIsIdempotentAndClosesConnections) {
    make_bucket("bkt");
    server_->stop();
    server_->stop();
    TestResponse r = client_->get("/bkt");
    EXPECT_EQ(r.status, -1);
}

}  // namespace
}  // namespace cleave::s3

namespace cleave::s3 {
namespace {

TEST(ServerStartTest, ResolvesHostNamesAndReportsBindFailures) {
    testing::FakeObjectService service;
    StaticCredentialProvider creds;
    ServerConfig config;
    config.listen_host = "localhost";
    config.listen_port = 0;
    Server a(config, service, creds);
    ASSERT_TRUE(a.start().is_ok());
    ServerConfig same = config;  // same host name, so the same resolved address
    same.listen_port = a.port();
    Server b(same, service, creds);
    Status st = b.start();
    EXPECT_EQ(st.code(), Errc::io_error) << st.to_string();
    ServerConfig bad = config;
    bad.listen_host = "not a host name!";
    Server c(bad, service, creds);
    EXPECT_EQ(c.start().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace cleave::s3
