#pragma once
// Internals of s3/server.cc and s3/handlers.cc: the server's state and one
// connection's coroutine. Not for other modules.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/hash.h"
#include "s3/aws_chunked.h"
#include "s3/errors.h"
#include "s3/request_util.h"
#include "s3/server.h"
#include "s3/sigv4.h"

namespace cleave::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Server::Impl {
    Impl(ServerConfig c, service::ObjectService& s, const CredentialProvider& cr);

    const ServerConfig config;
    service::ObjectService& service;
    const CredentialProvider& credentials;
    std::vector<std::string> suffixes;  // virtual-host suffixes, lowercase
    std::shared_ptr<spdlog::logger> log;

    std::unique_ptr<asio::io_context> ioc;
    std::unique_ptr<asio::thread_pool> pool;  // blocking service calls
    // Admin requests get threads of their own: an operator must be able to
    // act (e.g. heal a partition) while every service thread waits on one.
    std::unique_ptr<asio::thread_pool> admin_pool;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::vector<std::thread> io_threads;
    uint16_t bound_port = 0;
    bool started = false;
    std::atomic<bool> stopped{false};

    std::atomic<uint64_t> request_counter{0};
    uint64_t request_id_base = 0;

    int64_t now_ms() const;
    std::string next_request_id();
    asio::awaitable<void> accept_loop();
};

// One request as the handlers see it.
struct Request {
    std::string method;
    std::string raw_path;  // as on the wire
    std::string raw_query;
    QueryParams query;
    HeaderList headers;
    std::string host;
    std::string request_id;
    std::string resource;  // for error documents: the decoded path
    Addressing addr;
    Operation op = Operation::list_buckets;
    AuthContext auth;
    bool is_head = false;

    const std::string* header(std::string_view name) const;
    const std::string* param(std::string_view name) const { return find_param(query, name); }
};

// Serves one TCP connection: reads requests in order, authenticates,
// dispatches to a handler, writes the response. Owned by its coroutine.
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(Server::Impl& server, tcp::socket socket);
    asio::awaitable<void> run();

  private:
    using StringResponse = http::response<http::string_body>;

    // ---- HTTP plumbing (server.cc) ----
    asio::awaitable<bool> serve_one();  // false: close the connection
    S3Result<Request> build_request();
    StringResponse make_response(http::status status, const Request& req);
    template <typename Body>
    void add_common_headers(http::response<Body>& res, const Request& req);
    asio::awaitable<void> send(StringResponse& res);
    asio::awaitable<void> send_error(const Request& req, const S3Error& error);
    asio::awaitable<void> send_xml(const Request& req, http::status status, const std::string& xml);
    asio::awaitable<void> send_empty(const Request& req, http::status status);
    asio::awaitable<void> send_bare_error(const S3Error& error);  // before a Request exists
    asio::awaitable<void> close_gracefully();

    // Body reading: the decoded payload, piece by piece, checked against
    // x-amz-content-sha256, Content-MD5, aws-chunked signatures and limits.
    struct BodyState {
        bool set_up = false;
        bool raw_done = false;
        bool finished = false;
        bool digests_by_caller = false;  // PUT / UploadPart compare BodyDigest
        uint64_t limit = 0;
        uint64_t decoded = 0;
        std::optional<AwsChunkedDecoder> decoder;
        std::optional<Hasher> sha256;
        std::optional<Hasher> md5;
        std::string expected_md5;  // raw 16 bytes, empty if none
        std::string auth_sha256_hex;
        S3ErrorCode too_large_code = S3ErrorCode::entity_too_large;
        bool continue_sent = false;
    };
    // Prepares reading: validates Content-MD5 and lengths. `limit` bounds
    // the decoded body (EntityTooLarge / MaxMessageLengthExceeded past it).
    S3Status begin_body(const Request& req, uint64_t limit, bool digests_by_caller,
                        S3ErrorCode too_large_code);
    asio::awaitable<S3Result<std::string>> read_body_piece();
    // Reads raw (still encoded) body bytes into raw_buf_; 0 at the end.
    asio::awaitable<S3Result<size_t>> read_raw();
    asio::awaitable<S3Result<std::string>> read_small_body(const Request& req, uint64_t limit);
    // Compares a service-computed digest with what the client declared.
    S3Status check_digests(const Request& req, const service::BodyDigest& digest) const;

    template <typename F>
    asio::awaitable<std::invoke_result_t<F&>> blocking(F f, bool admin = false);

    // ---- Handlers (handlers.cc) ----
    asio::awaitable<void> dispatch(Request& req);
    asio::awaitable<void> admin(Request& req);
    asio::awaitable<void> list_buckets(Request& req);
    asio::awaitable<void> create_bucket(Request& req);
    asio::awaitable<void> delete_bucket(Request& req);
    asio::awaitable<void> head_bucket(Request& req);
    asio::awaitable<void> get_bucket_location(Request& req);
    asio::awaitable<void> get_bucket_versioning(Request& req);
    asio::awaitable<void> list_objects(Request& req, bool v2);
    asio::awaitable<void> list_multipart_uploads(Request& req);
    asio::awaitable<void> delete_objects(Request& req);
    asio::awaitable<void> put_object(Request& req);
    asio::awaitable<void> copy_object(Request& req);
    asio::awaitable<void> get_object(Request& req);
    asio::awaitable<void> delete_object(Request& req);
    asio::awaitable<void> create_multipart_upload(Request& req);
    asio::awaitable<void> upload_part(Request& req);
    asio::awaitable<void> complete_multipart_upload(Request& req);
    asio::awaitable<void> abort_multipart_upload(Request& req);
    asio::awaitable<void> list_parts(Request& req);
    // PutObject and UploadPart: begin a writer, stream the body into it,
    // commit it, answer 200 with the committed ETag (or the S3 error).
    using BeginBody = std::function<Result<std::unique_ptr<service::BodyWriter>>()>;
    using CommitBody = std::function<Result<std::string>(std::unique_ptr<service::BodyWriter>)>;
    // `size`: declared_body_size's. A body of at most kWholeBodyBytes is read
    // whole and handed to the service in one trip to the blocking pool
    // (store_whole_body), a larger or unknown one streamed (store_streamed_body).
    asio::awaitable<void> receive_body(Request& req, std::optional<uint64_t> size,
                                       const BeginBody& begin, const CommitBody& commit);
    asio::awaitable<S3Result<std::string>> store_whole_body(const Request& req,
                                                            const BeginBody& begin,
                                                            const CommitBody& commit);
    asio::awaitable<S3Result<std::string>> store_streamed_body(const Request& req,
                                                               const BeginBody& begin,
                                                               const CommitBody& commit);
    static constexpr uint64_t kWholeBodyBytes = 256 * 1024;
    // Streams a body into a writer; returns the digest after all checks.
    asio::awaitable<S3Result<service::BodyDigest>> stream_body_into(const Request& req,
                                                                    service::BodyWriter& writer);
    // The body's decoded size, or a bound on it (an unsigned streaming body's
    // encoded length); none when unknown (chunked). An error when the request
    // gives no length at all or a malformed one.
    S3Result<std::optional<uint64_t>> declared_body_size(const Request& req) const;

    Server::Impl& server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::buffer_body>> parser_;
    std::optional<BodyState> body_;  // per request (the decoder is not movable)
    bool close_after_ = false;       // the response must end the connection
    bool broken_ = false;            // the socket is unusable
    static constexpr size_t kRawReadBytes = 256 * 1024;
    std::string raw_buf_;  // socket reads of request bodies
};

template <typename Body>
void Connection::add_common_headers(http::response<Body>& res, const Request& req) {
    res.set(http::field::server, "Cleave");
    res.set(http::field::date, format_http_date(server_.now_ms()));
    res.set("x-amz-request-id", req.request_id);
    res.set("x-amz-id-2", req.request_id);
    res.keep_alive(!close_after_ && parser_ && parser_->get().keep_alive());
}

template <typename F>
asio::awaitable<std::invoke_result_t<F&>> Connection::blocking(F f, bool admin) {
    using R = std::invoke_result_t<F&>;
    // co_spawn's result type must be default-constructible; Result<T> is not.
    auto pool_executor = (admin ? server_.admin_pool : server_.pool)->get_executor();
    std::optional<R> r = co_await asio::co_spawn(
        pool_executor,
        [&f]() -> asio::awaitable<std::optional<R>> { co_return std::optional<R>(f()); },
        asio::use_awaitable);
    co_return std::move(*r);
}

}  // namespace cleave::s3
