#pragma once
// A small synchronous S3 client for the server's tests: Beast over a
// keep-alive connection, requests signed with s3/sigv4.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "s3/sigv4.h"

namespace cleave::s3::testing {

struct TestResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercase
    std::string body;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    // The <Code> of an error document, or "".
    std::string error_code() const;
};

enum class SignMode { signed_payload, unsigned_payload, streaming, none };

struct TestRequest {
    std::string method = "GET";
    std::string target = "/";  // raw path and query as sent on the wire
    std::string body{};
    std::vector<std::pair<std::string, std::string>> headers{};  // extra headers
    SignMode sign = SignMode::signed_payload;
    std::optional<std::string> host{};         // default "127.0.0.1:<port>"
    std::optional<Credentials> credentials{};  // default: the client's
    size_t chunk_bytes = 64 * 1024;            // streaming mode
};

class TestClient {
  public:
    TestClient(uint16_t port, Credentials credentials);
    ~TestClient();
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    TestResponse send(const TestRequest& request);
    // Shorthands.
    TestResponse get(const std::string& target) { return send({.target = target}); }
    TestResponse put(const std::string& target, std::string body,
                     std::vector<std::pair<std::string, std::string>> headers = {});
    TestResponse del(const std::string& target);
    TestResponse head(const std::string& target);
    TestResponse post(const std::string& target, std::string body);

    // A presigned URL target ("/path?X-Amz-..."), valid for expires_s.
    std::string presign(const std::string& method, const std::string& raw_path, int64_t expires_s,
                        int64_t now_ms);
    uint16_t port() const { return port_; }
    // Number of TCP connections opened so far (keep-alive checks).
    int connections_opened() const { return connections_opened_; }

  private:
    struct Conn;
    uint16_t port_;
    Credentials credentials_;
    std::unique_ptr<Conn> conn_;
    int connections_opened_ = 0;
};

// Sends raw bytes on a fresh connection and returns what the server sent back
// before closing (or until timeout_ms passes).
std::string raw_exchange(uint16_t port, const std::string& bytes, int timeout_ms = 5000,
                         bool half_close = false);

}  // namespace cleave::s3::testing
