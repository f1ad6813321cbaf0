#pragma once
// A small blocking S3 client for the `cleave` command line (mb, ls, cp, rm,
// cat, stat): HTTP/1.1 on Boost.Beast with one keep-alive connection, every
// request signed with SigV4 (s3/sigv4.h) over a SHA-256 of its body.
// Uploads larger than the multipart threshold go up in 8 MiB parts, so no
// more than one part is in memory; downloads stream to their sink.
//
// Not thread-safe: one client per thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "s3/sigv4.h"

namespace cleave::cli {

struct ClientConfig {
    std::string endpoint = "http://127.0.0.1:9000";  // http://HOST:PORT
    s3::Credentials credentials;
    std::string region = "us-east-1";
    uint64_t multipart_threshold_bytes = 8ULL << 20;
    uint64_t part_size_bytes = 8ULL << 20;
};

struct HttpResponse {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    const std::string* header(std::string_view name) const;
};

struct ListedEntry {
    std::string key;  // or common prefix
    uint64_t size = 0;
    std::string last_modified;
    std::string etag;
    bool is_prefix = false;
};

// Called with (bytes done, bytes total) as a transfer progresses.
using ProgressFn = std::function<void(uint64_t, uint64_t)>;
// Receives downloaded bytes in order; an error stops the download.
using SinkFn = std::function<Status(std::string_view)>;

class S3Client {
  public:
    static Result<std::unique_ptr<S3Client>> connect(ClientConfig config);
    ~S3Client();

    Status make_bucket(const std::string& bucket);
    Status remove_bucket(const std::string& bucket);
    Result<std::vector<std::string>> list_buckets();
    // All entries under prefix (paginated internally); with a delimiter,
    // common prefixes come back as entries with is_prefix.
    Result<std::vector<ListedEntry>> list(const std::string& bucket, const std::string& prefix,
                                          const std::string& delimiter);
    Result<HttpResponse> head(const std::string& bucket, const std::string& key);
    Status remove(const std::string& bucket, const std::string& key);
    // Uploads `size` bytes read by `read(offset, n)`; multipart above the
    // threshold. Returns the ETag.
    Result<std::string> upload(const std::string& bucket, const std::string& key, uint64_t size,
                               const std::function<Result<std::string>(uint64_t, size_t)>& read,
                               const ProgressFn& progress);
    // Streams an object into `sink`; returns its size.
    Result<uint64_t> download(const std::string& bucket, const std::string& key, const SinkFn& sink,
                              const ProgressFn& progress);

    // One signed request with an in-memory body; the whole response body is
    // read unless `sink` is set.
    Result<HttpResponse> request(const std::string& method, const std::string& bucket,
                                 const std::string& key, const s3::QueryParams& query,
                                 const std::string& body, s3::HeaderList headers = {},
                                 const SinkFn* sink = nullptr,
                                 const ProgressFn* progress = nullptr);

  private:
    struct Conn;
    explicit S3Client(ClientConfig config);
    Status ensure_connected();

    ClientConfig config_;
    std::string host_;
    std::string port_;
    std::unique_ptr<Conn> conn_;
};

// A failed response as a Status: "NoSuchBucket: The specified bucket does not
// exist (HTTP 404)".
Status error_of(const HttpResponse& response);

}  // namespace cleave::cli
