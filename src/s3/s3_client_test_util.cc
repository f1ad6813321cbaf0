#include "s3/s3_client_test_util.h"

#include <algorithm>
#include <chrono>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <pugixml.hpp>

#include "common/clock.h"
#include "common/hash.h"
#include "s3/aws_chunked.h"

namespace cleave::s3::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string TestResponse::error_code() const {
    pugi::xml_document doc;
    if (!doc.load_string(body.c_str())) return "";
    return doc.child("Error").child("Code").text().get();
}

struct TestClient::Conn {
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
};

TestClient::TestClient(uint16_t port, Credentials credentials)
    : port_(port), credentials_(std::move(credentials)), conn_(std::make_unique<Conn>()) {}

TestClient::~TestClient() = default;

TestResponse TestClient::send(const TestRequest& r) {
    std::string host = r.host.value_or("127.0.0.1:" + std::to_string(port_));
    size_t qm = r.target.find('?');
    SigV4Request sreq;
    sreq.method = r.method;
    sreq.raw_path = r.target.substr(0, qm);
    if (qm != std::string::npos) sreq.query = parse_query(r.target.substr(qm + 1)).value();
    sreq.headers.emplace_back("Host", host);
    for (const auto& h : r.headers) sreq.headers.push_back(h);
    std::string body = r.body;
    const Credentials& creds = r.credentials ? *r.credentials : credentials_;
    int64_t now = SystemClock::instance().now_unix_ms();
    if (r.sign == SignMode::signed_payload) {
        sign_request(sreq, to_hex(sha256(body)), creds, {.now_ms = now}).value();
    } else if (r.sign == SignMode::unsigned_payload) {
        sign_request(sreq, kUnsignedPayload, creds, {.now_ms = now}).value();
    } else if (r.sign == SignMode::streaming) {
        sreq.headers.emplace_back("Content-Encoding", "aws-chunked");
        bool has_decoded = std::any_of(sreq.headers.begin(), sreq.headers.end(), [](const auto& h) {
            return iequals(h.first, "x-amz-decoded-content-length");
        });
        if (!has_decoded)
            sreq.headers.emplace_back("x-amz-decoded-content-length", std::to_string(body.size()));
        sreq.headers.emplace_back("Content-Length", std::to_string(aws_chunked_encoded_length(
                                                        body.size(), r.chunk_bytes)));
        std::string seed =
            sign_request(sreq, kStreamingSignedPayload, creds, {.now_ms = now}).value();
        ChunkSigningContext ctx;
        std::string amz_date = format_amz_date(now);
        ctx.amz_date = amz_date;
        ctx.scope = amz_date.substr(0, 8) + "/us-east-1/s3/aws4_request";
        ctx.signing_key =
            derive_signing_key(creds.secret_key, amz_date.substr(0, 8), "us-east-1", "s3");
        ctx.seed_signature = seed;
        body = aws_chunked_encode(body, r.chunk_bytes, ctx);
    }

    http::request<http::string_body> req;
    req.method_string(r.method);
    req.target(r.target);
    req.version(11);
    for (const auto& [n, v] : sreq.headers) {
        if (iequals(n, "content-length")) continue;
        req.set(n, v);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    if (r.method == "GET" || r.method == "HEAD" || r.method == "DELETE") {
        if (req.body().empty()) req.erase(http::field::content_length);
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        beast::error_code ec;
        if (!conn_->stream) {
            conn_->stream.emplace(conn_->ioc);
            conn_->stream->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
            conn_->buffer.clear();
            ++connections_opened_;
            if (ec) {
                conn_->stream.reset();
                TestResponse fail;
                fail.status = -1;
                fail.body = ec.message();
                return fail;
            }
        }
        conn_->stream->expires_after(std::chrono::seconds(30));
        http::write(*conn_->stream, req, ec);
        // Interim 1xx responses (100 Continue) precede the final one.
        std::optional<http::response_parser<http::string_body>> parser;
        bool got_header = false;
        while (!ec) {
            parser.emplace();
            parser->body_limit(boost::none);
            if (r.method == "HEAD") parser->skip(true);
            http::read_header(*conn_->stream, conn_->buffer, *parser, ec);
            if (ec) break;
            got_header = true;
            if (parser->get().result_int() / 100 != 1) {
                http::read(*conn_->stream, conn_->buffer, *parser, ec);
                break;
            }
        }
        if (ec) {
            conn_->stream.reset();
            // Only a kept-alive connection that the server closed before
            // answering is retried; a response cut short is reported.
            if (attempt == 0 && !got_header) continue;
            TestResponse fail;
            fail.status = -1;
            fail.body = ec.message();
            return fail;
        }
        auto msg = parser->release();
        TestResponse out;
        out.status = static_cast<int>(msg.result_int());
        for (const auto& f : msg) out.headers[to_lower(f.name_string())] = std::string(f.value());
        out.body = std::move(msg.body());
        if (!msg.keep_alive()) conn_->stream.reset();
        return out;
    }
    return {};
}

TestResponse TestClient::put(const std::string& target, std::string body,
                             std::vector<std::pair<std::string, std::string>> headers) {
    return send({.method = "PUT",
                 .target = target,
                 .body = std::move(body),
                 .headers = std::move(headers)});
}
TestResponse TestClient::del(const std::string& target) {
    return send({.method = "DELETE", .target = target});
}
TestResponse TestClient::head(const std::string& target) {
    return send({.method = "HEAD", .target = target});
}
TestResponse TestClient::post(const std::string& target, std::string body) {
    return send({.method = "POST", .target = target, .body = std::move(body)});
}

std::string TestClient::presign(const std::string& method, const std::string& raw_path,
                                int64_t expires_s, int64_t now_ms) {
    SigV4Request r;
    r.method = method;
    r.raw_path = raw_path;
    r.headers = {{"Host", "127.0.0.1:" + std::to_string(port_)}};
    return presign_url(r, expires_s, credentials_, {.now_ms = now_ms}).value();
}

std::string raw_exchange(uint16_t port, const std::string& bytes, int timeout_ms, bool half_close) {
    asio::io_context ioc;
    beast::tcp_stream s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    s.expires_after(std::chrono::milliseconds(timeout_ms));
    beast::error_code ec;
    asio::write(s, asio::buffer(bytes), ec);
    if (half_close) s.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::string out;
    std::array<char, 4096> buf;
    while (true) {
        s.expires_after(std::chrono::milliseconds(timeout_ms));
        size_t n = s.read_some(asio::buffer(buf), ec);
        if (ec) break;
        out.append(buf.data(), n);
    }
    return out;
}

}  // namespace cleave::s3::testing
