#include "s3/server.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>

#include "common/logging.h"
#include "common/random.h"
#include "s3/server_internal.h"

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

// ---------------------------------------------------------------- Server ----

Server::Impl::Impl(ServerConfig c, service::ObjectService& s, const CredentialProvider& cr)
    : config(std::move(c)), service(s), credentials(cr), log(module_logger("s3")) {
    suffixes = {"localhost", "s3.localhost"};
    for (const auto& sfx : config.virtual_host_suffixes) {
        std::string l = to_lower(trim(sfx));
        while (!l.empty() && l.front() == '.') l.erase(l.begin());
        if (!l.empty() && std::find(suffixes.begin(), suffixes.end(), l) == suffixes.end())
            suffixes.push_back(l);
    }
    std::string seed = os_random_bytes(8);
    for (unsigned char ch : seed) request_id_base = (request_id_base << 8) | ch;
}

int64_t Server::Impl::now_ms() const {
    return (config.clock != nullptr ? *config.clock : SystemClock::instance()).now_unix_ms();
}

std::string Server::Impl::next_request_id() {
    uint64_t n = request_counter.fetch_add(1, std::memory_order_relaxed);
    return fmt::format("{:016X}", request_id_base ^ (n * 0x9E3779B97F4A7C15ULL));
}

asio::awaitable<void> Server::Impl::accept_loop() {
    while (!stopped.load()) {
        // Each connection gets its own strand. (Named, not a temporary: GCC 12
        // mishandles non-trivial temporaries in a co_await full-expression.)
        auto strand = asio::make_strand(*ioc);
        auto [ec, socket] = co_await acceptor->async_accept(strand, kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || stopped.load()) co_return;
            log->warn("accept failed: {}", ec.message());
            // Out of descriptors and the like: do not spin.
            asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
            co_await t.async_wait(kTuple);
            continue;
        }
        auto ex = socket.get_executor();
        auto conn = std::make_shared<Connection>(*this, std::move(socket));
        asio::co_spawn(
            ex, [conn]() { return conn->run(); }, asio::detached);
    }
}

Server::Server(ServerConfig config, service::ObjectService& service,
               const CredentialProvider& credentials)
    : impl_(std::make_unique<Impl>(std::move(config), service, credentials)) {}

Server::~Server() { stop(); }

Status Server::start() {
    Impl& s = *impl_;
    CLEAVE_ASSERT(!s.started, "Server::start called twice");
    s.started = true;
    boost::system::error_code ec;
    std::string host = s.config.listen_host;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    auto addr = asio::ip::make_address(host, ec);
    if (ec) {
        // A host name ("localhost"): its first address.
        asio::io_context resolve_ctx;
        tcp::resolver resolver(resolve_ctx);
        auto results = resolver.resolve(host, "", ec);
        if (ec || results.empty())
            return Status::invalid_argument(fmt::format("bad listen address '{}': {}",
                                                        s.config.listen_host,
                                                        ec ? ec.message() : "no address"));
        addr = results.begin()->endpoint().address();
    }
    s.ioc = std::make_unique<asio::io_context>(
        static_cast<int>(std::max<size_t>(1, s.config.io_threads)));
    size_t pool_threads = s.config.threads;
    if (pool_threads == 0)
        pool_threads = std::max<size_t>(4, 2 * std::thread::hardware_concurrency());
    s.pool = std::make_unique<asio::thread_pool>(pool_threads);
    s.admin_pool = std::make_unique<asio::thread_pool>(2);
    s.acceptor = std::make_unique<tcp::acceptor>(*s.ioc);
    tcp::endpoint ep(addr, s.config.listen_port);
    if (s.acceptor->open(ep.protocol(), ec); ec)
        return Status::io_error(fmt::format("socket: {}", ec.message()));
    if (s.acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec)
        return Status::io_error(fmt::format("SO_REUSEADDR: {}", ec.message()));
    if (s.acceptor->bind(ep, ec); ec)
        return Status::io_error(fmt::format("bind {}:{}: {}", s.config.listen_host,
                                            s.config.listen_port, ec.message()));
    if (s.acceptor->listen(asio::socket_base::max_listen_connections, ec); ec)
        return Status::io_error(fmt::format("listen: {}", ec.message()));
    s.bound_port = s.acceptor->local_endpoint().port();
    asio::co_spawn(
        *s.ioc, [&s]() { return s.accept_loop(); }, asio::detached);
    for (size_t i = 0; i < std::max<size_t>(1, s.config.io_threads); ++i) {
        s.io_threads.emplace_back([&s] {
            // Handlers do not throw (errors are values); a throw here is a
            // bug, logged and the loop resumed so one request cannot kill the
            // endpoint.
            while (true) {
                try {
                    s.ioc->run();
                    return;
                } catch (const std::exception& e) {
                    s.log->error("uncaught exception in the S3 event loop: {}", e.what());
                }
            }
        });
    }
    s.log->info("S3 endpoint listening on {}:{} ({} io threads, {} blocking threads)",
                s.config.listen_host, s.bound_port, s.io_threads.size(), pool_threads);
    return Status::ok();
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::stop() {
    Impl& s = *impl_;
    if (s.stopped.exchange(true)) return;
    if (!s.ioc) return;
    // Close the acceptor on its own executor, then stop the loop. Suspended
    // connection coroutines are destroyed with the io_context below, which
    // closes their sockets.
    asio::post(*s.ioc, [&s] {
        boost::system::error_code ec;
        s.acceptor->close(ec);
    });
    s.ioc->stop();
    for (auto& t : s.io_threads) t.join();
    s.io_threads.clear();
    // Blocking calls in flight finish before the coroutines that wait for
    // them are destroyed.
    s.pool->join();
    s.admin_pool->join();
    s.acceptor.reset();
    s.ioc.reset();
    s.pool.reset();
    s.admin_pool.reset();
}

// ------------------------------------------------------------ Connection ----

Connection::Connection(Server::Impl& server, tcp::socket socket)
    : server_(server), stream_(std::move(socket)) {}

const std::string* Request::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return &v;
    return nullptr;
}

asio::awaitable<void> Connection::run() {
    auto self = shared_from_this();
    boost::system::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    while (!server_.stopped.load()) {
        bool keep = co_await serve_one();
        if (!keep) break;
    }
    co_await close_gracefully();
}

asio::awaitable<void> Connection::close_gracefully() {
    if (broken_) {
        beast::error_code ec;
        stream_.socket().close(ec);
        co_return;
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    // Drain what the client is still sending (an unread body), briefly, so
    // the close does not turn into a reset that destroys our response.
    std::array<char, 64 * 1024> sink;
    uint64_t drained = 0;
    stream_.expires_after(std::chrono::seconds(2));
    while (drained < (64ULL << 20)) {
        auto [rec, n] = co_await stream_.async_read_some(asio::buffer(sink), kTuple);
        if (rec) break;
        drained += n;
    }
    stream_.socket().close(ec);
}

S3Result<Request> Connection::build_request() {
    auto& msg = parser_->get();
    Request req;
    req.request_id = server_.next_request_id();
    req.method = std::string(msg.method_string());
    req.is_head = msg.method() == http::verb::head;
    std::string_view target = msg.target();
    // Absolute-form targets (RFC 7230 section 5.3.2).
    if (target.starts_with("http://") || target.starts_with("https://")) {
        size_t start = target.find("//") + 2;
        size_t slash = target.find('/', start);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    size_t qm = target.find('?');
    req.raw_path = std::string(target.substr(0, qm));
    req.raw_query =
        qm == std::string_view::npos ? std::string() : std::string(target.substr(qm + 1));
    for (const auto& f : msg)
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    if (const std::string* h = req.header("host")) req.host = *h;
    req.resource = percent_decode(req.raw_path).value_or(req.raw_path);
    auto q = parse_query(req.raw_query);
    if (!q) return s3_error(C::invalid_argument, "Malformed percent-encoding in the query string.");
    req.query = std::move(*q);
    return req;
}

Connection::StringResponse Connection::make_response(http::status status, const Request& req) {
    StringResponse res{status, 11};
    add_common_headers(res, req);
    return res;
}

asio::awaitable<void> Connection::send(StringResponse& res) {
    // A response sent before the body was read whole ends the connection:
    // the rest of the body would otherwise be read as the next request.
    if (parser_ && !parser_->is_done()) close_after_ = true;
    res.keep_alive(res.keep_alive() && !close_after_);
    if (res.keep_alive() == false) close_after_ = true;
    res.prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    if (ec) broken_ = true;
}

asio::awaitable<void> Connection::send_error(const Request& req, const S3Error& error) {
    int status = error.http_status();
    if (status >= 500 && status != 501) {
        server_.log->warn("{} {} {}: {} {}", req.request_id, req.method, req.resource, error.name(),
                          error.effective_message());
    } else {
        server_.log->debug("{} {} {}: {} {}", req.request_id, req.method, req.resource,
                           error.name(), error.effective_message());
    }
    StringResponse res = make_response(static_cast<http::status>(status), req);
    if (error.code == C::invalid_range && !req.is_head) {
        // Content-Range was set by the caller in the message-less form.
    }
    if (!req.is_head && status != 304) {
        res.set(http::field::content_type, "application/xml");
        res.body() = render_error_xml(error, req.resource, req.request_id);
    }
    co_await send(res);
}

asio::awaitable<void> Connection::send_xml(const Request& req, http::status status,
                                           const std::string& xml) {
    StringResponse res = make_response(status, req);
    res.set(http::field::content_type, "application/xml");
    res.body() = xml;
    co_await send(res);
}

asio::awaitable<void> Connection::send_empty(const Request& req, http::status status) {
    StringResponse res = make_response(status, req);
    co_await send(res);
}

asio::awaitable<void> Connection::send_bare_error(const S3Error& error) {
    Request req;
    req.request_id = server_.next_request_id();
    req.resource = "/";
    close_after_ = true;
    StringResponse res{static_cast<http::status>(error.http_status()), 11};
    add_common_headers(res, req);
    res.keep_alive(false);
    res.set(http::field::content_type, "application/xml");
    res.body() = render_error_xml(error, req.resource, req.request_id);
    co_await send(res);
}

asio::awaitable<bool> Connection::serve_one() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.config.max_header_bytes));
    parser_->body_limit(boost::none);  // Cleave enforces its own limits per operation
    body_.emplace();
    close_after_ = false;

    stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, *parser_, kTuple);
    if (ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == beast::error::timeout || ec == asio::error::connection_reset ||
            ec == asio::error::operation_aborted) {
            // The client went away (or idled out) between requests.
            broken_ = true;
            co_return false;
        }
        if (ec == http::error::header_limit) {
            {
                const S3Error err_ = s3_error(
                    C::request_header_section_too_large,
                    fmt::format(
                        "Your request header section exceeds the maximum allowed size of {} "
                        "bytes.",
                        server_.config.max_header_bytes));
                co_await send_bare_error(err_);
            }
        } else if (ec == http::error::partial_message) {
            broken_ = true;
        } else {
            {
                const S3Error err_ = s3_error(
                    C::invalid_request, fmt::format("Malformed HTTP request: {}.", ec.message()));
                co_await send_bare_error(err_);
            }
        }
        co_return false;
    }

    auto built = build_request();
    if (!built) {
        Request req;
        req.request_id = server_.next_request_id();
        req.resource = "/";
        {
            const S3Error err_ = built.error();
            co_await send_error(req, err_);
        }
        co_return !close_after_ && !broken_;
    }
    Request req = std::move(built.value());
    co_await dispatch(req);
    if (broken_) co_return false;
    if (close_after_) co_return false;
    if (!parser_->is_done()) co_return false;
    co_return parser_->get().keep_alive();
}

// ---------------------------------------------------------- Body reading ----

S3Status Connection::begin_body(const Request& req, uint64_t limit, bool digests_by_caller,
                                S3ErrorCode too_large_code) {
    body_->set_up = true;
    body_->limit = limit;
    body_->too_large_code = too_large_code;
    body_->auth_sha256_hex = req.auth.payload_sha256_hex;
    body_->digests_by_caller = digests_by_caller;
    if (const std::string* md5 = req.header("content-md5")) {
        std::string raw;
        if (!base64_decode(trim(*md5), &raw) || raw.size() != 16)
            return s3_error(C::invalid_digest);
        body_->expected_md5 = std::move(raw);
        if (!digests_by_caller) body_->md5.emplace(Hasher::Kind::md5);
    }
    if (req.auth.payload_mode == PayloadMode::sha256 && !digests_by_caller)
        body_->sha256.emplace(Hasher::Kind::sha256);
    if (is_streaming(req.auth.payload_mode)) {
        AwsChunkedDecoder::Options o;
        o.mode = req.auth.payload_mode;
        o.signing = req.auth.chunk_signing;
        if (const std::string* d = req.header("x-amz-decoded-content-length")) {
            auto v = parse_int(*d, 0, INT64_MAX);
            if (!v) return s3_error(C::invalid_argument, "Invalid x-amz-decoded-content-length.");
            o.decoded_length = static_cast<uint64_t>(*v);
            if (*o.decoded_length > limit) return s3_error(too_large_code);
        } else if (req.auth.payload_mode == PayloadMode::streaming_signed) {
            return s3_error(C::missing_content_length,
                            "x-amz-decoded-content-length is required with "
                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD.");
        }
        body_->decoder.emplace(std::move(o));
    } else if (auto len = parser_->content_length(); len && *len > limit) {
        return s3_error(too_large_code);
    }
    return S3Status::ok();
}

asio::awaitable<S3Result<size_t>> Connection::read_raw() {
    auto& msg = parser_->get();
    if (!body_->continue_sent) {
        body_->continue_sent = true;
        auto expect = msg[http::field::expect];
        // Sent even for an empty body: botocore waits for the interim
        // answer whenever it asked for one, and otherwise misreads the next
        // answer on a kept-alive connection.
        if (iequals(trim(expect), "100-continue")) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
            auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
            if (ec) {
                broken_ = true;
                co_return s3_error(C::incomplete_body, "The connection failed.");
            }
        }
    }
    if (parser_->is_done()) co_return size_t{0};
    if (raw_buf_.empty()) raw_buf_.resize(kRawReadBytes);
    msg.body().data = raw_buf_.data();
    msg.body().size = raw_buf_.size();
    stream_.expires_after(std::chrono::milliseconds(server_.config.idle_timeout_ms));
    auto [ec, n] = co_await http::async_read(stream_, buffer_, *parser_, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    size_t got = raw_buf_.size() - msg.body().size;
    msg.body().data = nullptr;
    msg.body().size = 0;
    if (ec) {
        broken_ = true;
        if (ec == beast::error::timeout) co_return s3_error(C::request_timeout);
        co_return s3_error(C::incomplete_body,
                           fmt::format("The request body ended early ({}).", ec.message()));
    }
    co_return got;
}

asio::awaitable<S3Result<std::string>> Connection::read_body_piece() {
    CLEAVE_ASSERT(body_->set_up, "read_body_piece before begin_body");
    if (body_->finished) co_return std::string();
    // Gather up to body_piece_bytes of decoded payload from as many socket
    // reads as it takes, so the service sees few, large writes.
    std::string out;
    while (out.size() < server_.config.body_piece_bytes && !body_->raw_done) {
        auto got = co_await read_raw();
        if (!got) co_return got.error();
        std::string_view raw(raw_buf_.data(), *got);
        if (body_->decoder) {
            S3Status st = body_->decoder->feed(raw, &out);
            if (!st) co_return st.error();
        } else {
            out.append(raw);
        }
        if (parser_->is_done()) body_->raw_done = true;
    }
    body_->decoded += out.size();
    if (body_->decoded > body_->limit) co_return s3_error(body_->too_large_code);
    if (body_->sha256) body_->sha256->update(out);
    if (body_->md5) body_->md5->update(out);
    if (!out.empty()) co_return out;

    // The body ended: every check that needs all of it.
    if (body_->decoder) {
        S3Status st = body_->decoder->finish();
        if (!st) co_return st.error();
    }
    if (body_->sha256 && to_hex(body_->sha256->finish()) != body_->auth_sha256_hex)
        co_return s3_error(C::x_amz_content_sha256_mismatch);
    if (body_->md5 && body_->md5->finish() != body_->expected_md5)
        co_return s3_error(C::bad_digest);
    body_->finished = true;
    co_return std::string();
}

asio::awaitable<S3Result<std::string>> Connection::read_small_body(const Request& req,
                                                                   uint64_t limit) {
    if (S3Status st = begin_body(req, limit, false, C::max_message_length_exceeded); !st)
        co_return st.error();
    std::string all;
    while (true) {
        auto piece = co_await read_body_piece();
        if (!piece) co_return piece.error();
        if (piece->empty()) break;
        all += *piece;
    }
    co_return all;
}

S3Status Connection::check_digests(const Request& req, const service::BodyDigest& digest) const {
    if (req.auth.payload_mode == PayloadMode::sha256 &&
        to_hex(digest.sha256) != req.auth.payload_sha256_hex)
        return s3_error(C::x_amz_content_sha256_mismatch);
    if (!body_->expected_md5.empty() && digest.md5 != body_->expected_md5)
        return s3_error(C::bad_digest);
    return S3Status::ok();
}

}  // namespace cleave::s3
