#pragma once
// The S3 HTTP/1.1 endpoint: Boost.Beast over Boost.Asio with C++20
// coroutines. One coroutine per connection (keep-alive; requests on one
// connection are served in order). Request bodies are read piecewise and
// streamed into the service's BodyWriter; GET bodies are streamed from the
// service's ObjectReader: no body is ever held whole in memory.
//
// Threads: the sockets run on a small io_context pool (2 threads); every
// ObjectService call, which may block on disk (fsync), runs on a separate
// blocking pool (`threads` of ServerConfig, default max(4, 2 x cores)) and the
// connection coroutine awaits it, so a slow disk never stalls the event loop.
//
// Lifecycle: construct, start() (binds; port() is then the bound port), stop()
// (stops accepting, closes every connection, joins all threads; idempotent,
// also run by the destructor). The service and credential provider must
// outlive the server.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "s3/credentials.h"
#include "service/object_service.h"

namespace cleave::s3 {

struct ServerConfig {
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 9000;  // 0 = an ephemeral port (see Server::port())
    std::string region = "us-east-1";
    // Host suffixes for virtual-host-style addressing ("<bucket>.<suffix>");
    // "localhost" and "s3.localhost" are always included.
    std::vector<std::string> virtual_host_suffixes;
    size_t threads = 0;  // blocking-call pool size; 0 = max(4, 2 x cores)
    size_t io_threads = 2;

    // Limits.
    size_t max_header_bytes = 16 * 1024;       // larger: 400 and close
    uint64_t max_xml_body_bytes = 4ULL << 20;  // CompleteMultipartUpload, DeleteObjects
    size_t body_piece_bytes = 1 << 20;         // service write granularity
    int64_t idle_timeout_ms = 5 * 60 * 1000;   // keep-alive idle, and per read/write
    int64_t max_clock_skew_ms = 15 * 60 * 1000;

    // Wall clock for SigV4 (tests inject one); nullptr = the system clock.
    const Clock* clock = nullptr;

    // Optional hooks of a cluster node. `healthy`: GET /_cleave/health answers
    // 503 while it returns false (e.g. no leader known). `admin`: requests
    // under /_cleave/admin/, signed like any S3 request, are answered with
    // the JSON it returns: (method, path after "/_cleave/admin/", query
    // parameters). It may block; it runs on the blocking pool.
    std::function<bool()> healthy;
    std::function<Result<std::string>(
        const std::string& method, const std::string& path,
        const std::vector<std::pair<std::string, std::string>>& query)>
        admin;
};

class Server {
  public:
    Server(ServerConfig config, service::ObjectService& service,
           const CredentialProvider& credentials);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts serving. After OK, port() is the bound port.
    // io_error when the address cannot be bound; invalid_argument on a bad
    // listen_host. Called at most once.
    Status start();
    uint16_t port() const;
    // Stops accepting, closes connections, joins threads. Idempotent.
    void stop();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace cleave::s3
