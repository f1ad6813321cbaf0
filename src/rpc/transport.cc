#include "rpc/transport.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/logging.h"
#include "common/random.h"
#include "rpc/handshake.h"

// GCC 12 destroys some temporaries of a co_await full-expression twice (a
// compiler bug: "free(): invalid pointer" at run time). Every argument with
// a destructor that a co_await expression passes is therefore a named local.

// Every coroutine keeps `live` (a copy of live_) and checks it after each
// co_await before touching a member: the Transport may have been destroyed
// while the coroutine waited (see ~Transport).
#define CLEAVE_RPC_RETURN_IF_GONE(...) \
    if (!live->alive) co_return __VA_ARGS__

namespace cleave::rpc {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {
std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("rpc");
    return l;
}
// Bytes of queued frames one write coalesces.
constexpr size_t kMaxWriteBatchBytes = 1 << 20;

std::string encode_response(const Result<std::string>& r) {
    std::string out(1, static_cast<char>(r.is_ok() ? Errc::ok : r.status().code()));
    out += r.is_ok() ? r.value() : r.status().message();
    return out;
}

Result<std::string> decode_response(std::string body) {
    if (body.empty()) return Status::corruption("empty response frame");
    auto code = static_cast<Errc>(static_cast<uint8_t>(body[0]));
    if (code == Errc::ok) return body.substr(1);
    return Status(code, body.substr(1));
}
}  // namespace

struct Transport::Peer {
    explicit Peer(asio::io_context& io, uint64_t node_id) : id(node_id), wake(io) {
        wake.expires_at(asio::steady_timer::time_point::max());
    }
    const uint64_t id;
    std::string host;
    uint16_t port = 0;
    bool dialing = false;
    std::shared_ptr<tcp::socket> socket;  // the live, authenticated connection
    uint64_t generation = 0;              // bumped per connection
    std::deque<Frame> queue;
    asio::steady_timer wake;  // cancelled when the queue gains frames
};

struct Transport::Pending {
    explicit Pending(asio::io_context& io, uint64_t p) : timer(io), peer(p) {}
    asio::steady_timer timer;
    uint64_t peer;
    std::optional<Result<std::string>> result;
};

Transport::Transport(asio::io_context& io, TransportConfig config)
    : io_(io), config_(std::move(config)), acceptor_(io), live_(std::make_shared<Liveness>()) {
    CLEAVE_ASSERT(!config_.secret.empty(), "transport needs a cluster secret");
}

Transport::~Transport() {
    stop();
    // Coroutines still queued on the io_context resume after this object is
    // gone; each checks the shared flag before touching a member.
    live_->alive = false;
}

Status Transport::start() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(config_.listen_host, ec);
    if (ec) return Status::invalid_argument("bad listen address " + config_.listen_host);
    tcp::endpoint ep(addr, config_.listen_port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Status::io_error(fmt::format("cannot listen on {}:{}: {}", config_.listen_host,
                                            config_.listen_port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    return Status::ok();
}

void Transport::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& [id, p] : peers_) {
        if (p->socket) p->socket->close(ec);
        p->wake.cancel();
    }
    for (auto& [id, pending] : pending_) {
        pending->result = Status(Errc::aborted, "transport stopped");
        pending->timer.cancel();
    }
}

std::shared_ptr<Transport::Peer> Transport::peer(uint64_t id) {
    auto& p = peers_[id];
    if (!p) p = std::make_shared<Peer>(io_, id);
    return p;
}

void Transport::set_peer(uint64_t node_id, std::string host, uint16_t port) {
    CLEAVE_ASSERT(node_id != config_.node_id, "a node is not its own peer");
    auto p = peer(node_id);
    p->host = std::move(host);
    p->port = port;
    const uint64_t self = config_.node_id;
    const bool joined_pair =
        config_.initial_members != 0 && std::max(self, node_id) > config_.initial_members;
    const bool dials = config_.dial_all || (joined_pair ? self > node_id : self < node_id);
    if (dials && !p->dialing && !stopped_) {
        p->dialing = true;
        asio::co_spawn(io_, dial_loop(p), asio::detached);
    }
}

bool Transport::connected(uint64_t id) const {
    auto it = peers_.find(id);
    return it != peers_.end() && it->second->socket != nullptr;
}

Status Transport::enqueue(uint64_t id, Frame frame) {
    if (partitioned_) {
        ++stats_.frames_dropped;
        return Status::unavailable(fmt::format("partitioned from peer {} (failpoint)", id));
    }
    auto it = peers_.find(id);
    if (it == peers_.end()) return Status::unavailable(fmt::format("unknown peer {}", id));
    auto& p = it->second;
    if (p->queue.size() >= config_.max_queued_frames) {
        ++stats_.sends_refused;
        return Status::unavailable(fmt::format("queue to peer {} is full", id));
    }
    p->queue.push_back(std::move(frame));
    p->wake.cancel();
    return Status::ok();
}

Status Transport::send(uint64_t peer_id, std::string body) {
    if (stopped_) return Status(Errc::aborted, "transport stopped");
    return enqueue(peer_id, Frame{FrameKind::one_way, 0, std::move(body)});
}

awaitable<Result<std::string>> Transport::call(uint64_t peer_id, std::string body,
                                               int64_t timeout_ms) {
    const auto live = live_;
    if (stopped_) co_return Status(Errc::aborted, "transport stopped");
    uint32_t id = next_request_id_++;
    if (next_request_id_ == 0) next_request_id_ = 1;
    auto pending = std::make_shared<Pending>(io_, peer_id);
    pending->timer.expires_after(
        std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : config_.call_timeout_ms));
    Status queued = enqueue(peer_id, Frame{FrameKind::request, id, std::move(body)});
    if (!queued.is_ok()) co_return queued;
    pending_[id] = pending;
    co_await pending->timer.async_wait(as_tuple_awaitable);
    CLEAVE_RPC_RETURN_IF_GONE(Status(Errc::aborted, "transport destroyed"));
    pending_.erase(id);
    if (pending->result) co_return std::move(*pending->result);
    co_return Status::unavailable(fmt::format("call to peer {} timed out", peer_id));
}

void Transport::fail_pending_of(uint64_t peer_id, const Status& why) {
    for (auto& [id, pending] : pending_) {
        if (pending->peer == peer_id && !pending->result) {
            pending->result = why;
            pending->timer.cancel();
        }
    }
}

void Transport::dispatch(uint64_t from, Frame frame) {
    if (partitioned_) {
        ++stats_.frames_dropped;
        return;
    }
    ++stats_.frames_received;
    switch (frame.kind) {
        case FrameKind::one_way:
        case FrameKind::chunk_part:
            if (on_message_) on_message_(from, std::move(frame.body));
            return;
        case FrameKind::request: {
            if (!on_request_) {
                Status s =
                    enqueue(from, Frame{FrameKind::response, frame.request_id,
                                        encode_response(Status(Errc::internal, "no handler"))});
                s.ignore();  // the caller times out if even this is refused
                return;
            }
            asio::co_spawn(
                io_,
                [this, live = live_, from, id = frame.request_id,
                 body = std::move(frame.body)]() mutable -> awaitable<void> {
                    auto r = co_await on_request_(from, std::move(body));
                    CLEAVE_RPC_RETURN_IF_GONE();
                    Status s = enqueue(from, Frame{FrameKind::response, id, encode_response(r)});
                    s.ignore();  // a refused response looks like a timeout to the caller
                },
                asio::detached);
            return;
        }
        case FrameKind::response: {
            auto it = pending_.find(frame.request_id);
            if (it == pending_.end() || it->second->peer != from) return;  // late or foreign
            it->second->result = decode_response(std::move(frame.body));
            it->second->timer.cancel();
            return;
        }
        case FrameKind::hello:
        case FrameKind::challenge:
        case FrameKind::auth:
            log()->warn("node {}: handshake frame from peer {} after the handshake; ignored",
                        config_.node_id, from);
            return;
    }
}

awaitable<void> Transport::accept_loop() {
    const auto live = live_;
    while (!stopped_) {
        auto [ec, socket] = co_await acceptor_.async_accept(as_tuple_awaitable);
        CLEAVE_RPC_RETURN_IF_GONE();
        if (ec) {
            if (stopped_) co_return;
            log()->warn("node {}: accept failed: {}", config_.node_id, ec.message());
            continue;
        }
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(io_, serve_accepted(std::move(socket)), asio::detached);
    }
}

// Reads frames from `socket` into `decoder` until one is whole.
static awaitable<Result<Frame>> read_frame(tcp::socket& socket, FrameDecoder& decoder) {
    char buf[4096];
    while (true) {
        auto next = decoder.next();
        if (!next.is_ok()) co_return next.status();
        if (next->has_value()) co_return std::move(**next);
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), as_tuple_awaitable);
        if (ec) co_return Status::unavailable("connection closed: " + ec.message());
        decoder.feed(std::string_view(buf, n));
    }
}

static awaitable<Status> write_frame(tcp::socket& socket, const Frame& frame) {
    std::string wire;
    encode_frame(frame, wire);
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(wire), as_tuple_awaitable);
    if (ec) co_return Status::unavailable("write failed: " + ec.message());
    co_return Status::ok();
}

awaitable<void> Transport::serve_accepted(tcp::socket socket) {
    // Bound the handshake in time: a silent peer must not hold a socket.
    asio::steady_timer deadline(io_);
    deadline.expires_after(std::chrono::milliseconds(config_.handshake_timeout_ms));
    deadline.async_wait([&socket](boost::system::error_code ec) {
        if (!ec) {
            boost::system::error_code ignored;
            socket.close(ignored);
        }
    });
    const auto live = live_;
    FrameDecoder decoder(64 << 10);
    AcceptorHandshake hs({config_.node_id, config_.cluster, config_.secret}, os_random_bytes(16));
    auto hello = co_await read_frame(socket, decoder);
    CLEAVE_RPC_RETURN_IF_GONE();
    Status failed;
    if (!hello.is_ok()) {
        failed = hello.status();
    } else {
        auto challenge = hs.on_hello(*hello);
        if (!challenge.is_ok()) {
            failed = challenge.status();
        } else {
            failed = co_await write_frame(socket, *challenge);
            CLEAVE_RPC_RETURN_IF_GONE();
            if (failed.is_ok()) {
                auto auth = co_await read_frame(socket, decoder);
                CLEAVE_RPC_RETURN_IF_GONE();
                if (auth.is_ok()) {
                    failed = hs.on_auth(*auth);
                } else {
                    failed = auth.status();
                }
            }
        }
    }
    deadline.cancel();
    if (!failed.is_ok() || !socket.is_open()) {
        ++stats_.handshakes_refused;
        log()->warn("node {}: refused a connection: {}", config_.node_id, failed.to_string());
        boost::system::error_code ignored;
        socket.close(ignored);
        co_return;
    }
    // What the dialer sent right after its auth may already be in the
    // handshake decoder — whole frames, frames larger than the handshake's
    // limit, or the start of one: hand over the raw bytes, never re-framed
    // (dropping a partial frame here would misalign the stream).
    std::string leftover = decoder.take_rest();
    std::shared_ptr<Peer> from = peer(hs.peer_node_id());
    co_await run_connection(from, std::move(socket), std::move(leftover));
}

awaitable<void> Transport::dial_loop(std::shared_ptr<Peer> p) {
    const auto live = live_;
    int64_t backoff_ms = config_.reconnect_min_ms;
    asio::steady_timer timer(io_);
    while (!stopped_) {
        tcp::socket socket(io_);
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(p->host, ec);
        if (!ec) {
            std::tie(ec) =
                co_await socket.async_connect(tcp::endpoint(addr, p->port), as_tuple_awaitable);
            CLEAVE_RPC_RETURN_IF_GONE();
        }
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            FrameDecoder decoder(64 << 10);
            DialerHandshake hs({config_.node_id, config_.cluster, config_.secret},
                               os_random_bytes(16));
            const Frame hello = hs.hello();  // no temporaries in co_await (GCC 12, see top)
            Status s = co_await write_frame(socket, hello);
            CLEAVE_RPC_RETURN_IF_GONE();
            if (s.is_ok()) {
                auto challenge = co_await read_frame(socket, decoder);
                CLEAVE_RPC_RETURN_IF_GONE();
                if (challenge.is_ok()) {
                    auto auth = hs.on_challenge(*challenge);
                    if (auth.is_ok()) {
                        s = co_await write_frame(socket, *auth);
                        CLEAVE_RPC_RETURN_IF_GONE();
                    } else {
                        s = auth.status();
                    }
                } else {
                    s = challenge.status();
                }
            }
            if (s.is_ok() && hs.peer_node_id() != p->id) {
                s = Status::precondition_failed(
                    fmt::format("dialed node {} but node {} answered", p->id, hs.peer_node_id()));
            }
            if (s.is_ok()) {
                backoff_ms = config_.reconnect_min_ms;
                std::string leftover = decoder.take_rest();
                co_await run_connection(p, std::move(socket), std::move(leftover));
                CLEAVE_RPC_RETURN_IF_GONE();
            } else {
                ++stats_.handshakes_refused;
                log()->warn("node {}: handshake with peer {} failed: {}", config_.node_id, p->id,
                            s.to_string());
            }
        }
        if (stopped_) break;
        timer.expires_after(std::chrono::milliseconds(backoff_ms));
        co_await timer.async_wait(as_tuple_awaitable);
        CLEAVE_RPC_RETURN_IF_GONE();
        backoff_ms = std::min(backoff_ms * 2, config_.reconnect_max_ms);
    }
    p->dialing = false;
}

awaitable<void> Transport::run_connection(std::shared_ptr<Peer> p, tcp::socket socket,
                                          std::string leftover) {
    const auto live = live_;
    boost::system::error_code ignored;
    if (p->socket) p->socket->close(ignored);  // a newer connection replaces the old one
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    p->socket = sock;
    uint64_t generation = ++p->generation;
    ++stats_.connections_opened;
    p->wake.cancel();  // the previous writer (if any) exits; ours starts below
    asio::co_spawn(io_, write_loop(p, generation), asio::detached);

    FrameDecoder decoder;
    decoder.feed(leftover);
    char buf[64 * 1024];
    while (!stopped_) {
        bool broken = false;
        while (true) {
            auto f = decoder.next();
            if (!f.is_ok()) {
                log()->warn("node {}: bad frame from peer {}: {}", config_.node_id, p->id,
                            f.status().to_string());
                broken = true;
                break;
            }
            if (!f->has_value()) break;
            dispatch(p->id, std::move(**f));
        }
        if (broken) break;
        auto [ec, n] = co_await sock->async_read_some(asio::buffer(buf), as_tuple_awaitable);
        CLEAVE_RPC_RETURN_IF_GONE();
        if (ec) break;
        decoder.feed(std::string_view(buf, n));
    }
    sock->close(ignored);
    if (p->generation == generation) {
        p->socket.reset();
        p->wake.cancel();
        fail_pending_of(p->id,
                        Status::unavailable(fmt::format("connection to peer {} lost", p->id)));
    }
}

awaitable<void> Transport::write_loop(std::shared_ptr<Peer> p, uint64_t generation) {
    const auto live = live_;
    while (!stopped_ && p->generation == generation && p->socket) {
        if (p->queue.empty()) {
            p->wake.expires_at(asio::steady_timer::time_point::max());
            co_await p->wake.async_wait(as_tuple_awaitable);
            CLEAVE_RPC_RETURN_IF_GONE();
            continue;
        }
        // Coalesce queued frames into one write.
        std::string wire;
        uint64_t frames = 0;
        while (!p->queue.empty() && wire.size() < kMaxWriteBatchBytes) {
            encode_frame(p->queue.front(), wire);
            p->queue.pop_front();
            ++frames;
        }
        auto sock = p->socket;
        auto [ec, n] = co_await asio::async_write(*sock, asio::buffer(wire), as_tuple_awaitable);
        CLEAVE_RPC_RETURN_IF_GONE();
        if (ec) {
            boost::system::error_code ignored;
            sock->close(ignored);
            co_return;
        }
        stats_.frames_sent += frames;
    }
}

}  // namespace cleave::rpc
