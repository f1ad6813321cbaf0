#pragma once
// The node-to-node transport (DESIGN.md §9): one TCP connection per node
// pair, authenticated by the cluster secret (handshake.h), carrying frames
// (frame.h) in both directions:
//
//   node 1 (lower id: dials)                   node 2 (higher id: accepts)
//   ┌────────────────────────┐   one socket   ┌────────────────────────┐
//   │ Peer{2}: queue ─▶ writer├───────────────▶│reader ─▶ handlers      │
//   │          reader ◀───────┤◀───────────────┤writer ◀─ queue Peer{1} │
//   └────────────────────────┘                └────────────────────────┘
//
// The node with the lower id (of two initial members; of a pair with a node
// that joined later, the higher id) dials and redials with capped exponential
// backoff; the other side adopts the connection it accepts. Frames for a
// peer without a connection wait in its bounded queue: when the queue is full
// send() refuses (backpressure) instead of growing without bound.
//
// Requests: call() sends a request frame with a fresh id and completes when
// the response with that id arrives, or fails on timeout or connection loss.
//
// Threading: a Transport lives on one io_context executor; every method must
// be called on it (from a coroutine or handler running there). stop() ends
// every coroutine it started; the Transport may be destroyed while some of
// them are still queued (they find it gone and return).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/status.h"
#include "rpc/frame.h"

namespace cleave::rpc {

struct TransportConfig {
    uint64_t node_id = 0;
    std::string cluster = "cleave";
    std::string secret;
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 0;  // 0 = ephemeral
    size_t max_queued_frames = 4096;
    int64_t reconnect_min_ms = 20;
    int64_t reconnect_max_ms = 2000;
    int64_t call_timeout_ms = 5000;
    int64_t handshake_timeout_ms = 5000;
    // Dial every peer, whatever the ids: a standalone gateway, which no
    // member knows the address of, reaches the members this way (they adopt
    // the connections they accept).
    bool dial_all = false;
    // Ids 1..initial_members are the cluster's initial members: of two of
    // them the lower id dials. A node that joined later (a higher id) is
    // known to nobody until it calls, so of a pair with a joined node the
    // higher id dials. 0: the lower id always dials.
    uint64_t initial_members = 0;
};

struct TransportStats {
    uint64_t frames_sent = 0;
    uint64_t frames_received = 0;
    uint64_t handshakes_refused = 0;
    uint64_t connections_opened = 0;
    uint64_t sends_refused = 0;   // backpressure
    uint64_t frames_dropped = 0;  // by the partition failpoint
};

class Transport {
  public:
    // One-way frames: (peer, body).
    using MessageHandler = std::function<void(uint64_t, std::string)>;
    // Requests: (peer, body) -> response body or error.
    using RequestHandler =
        std::function<boost::asio::awaitable<Result<std::string>>(uint64_t, std::string)>;

    Transport(boost::asio::io_context& io, TransportConfig config);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Binds and starts accepting. After OK, port() is the bound port.
    Status start();
    uint16_t port() const { return port_; }

    void on_message(MessageHandler h) { on_message_ = std::move(h); }
    void on_request(RequestHandler h) { on_request_ = std::move(h); }

    // Adds or updates a peer's address; which side dials: TransportConfig.
    void set_peer(uint64_t node_id, std::string host, uint16_t port);

    // Queues a one-way frame. unavailable when the peer's queue is full or
    // the peer is unknown.
    Status send(uint64_t peer, std::string body);
    // A request and its response; timeout_ms 0 = the configured default.
    boost::asio::awaitable<Result<std::string>> call(uint64_t peer, std::string body,
                                                     int64_t timeout_ms = 0);

    // Whether an authenticated connection to the peer is up.
    bool connected(uint64_t peer) const;
    const TransportStats& stats() const { return stats_; }

    void stop();

    // Failpoint for tests of network partitions: while on, every frame this
    // node would send is refused and every frame it receives is dropped —
    // the node is cut off from all peers, though its sockets stay up.
    void set_partitioned(bool on) { partitioned_ = on; }
    bool partitioned() const { return partitioned_; }

  private:
    struct Peer;
    struct Pending;

    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> dial_loop(std::shared_ptr<Peer> peer);
    boost::asio::awaitable<void> serve_accepted(boost::asio::ip::tcp::socket socket);
    // Runs an authenticated connection until it fails; returns when closed.
    boost::asio::awaitable<void> run_connection(std::shared_ptr<Peer> peer,
                                                boost::asio::ip::tcp::socket socket,
                                                std::string leftover);
    boost::asio::awaitable<void> write_loop(std::shared_ptr<Peer> peer, uint64_t generation);
    void dispatch(uint64_t peer, Frame frame);
    Status enqueue(uint64_t peer, Frame frame);
    std::shared_ptr<Peer> peer(uint64_t id);
    void fail_pending_of(uint64_t peer, const Status& why);

    // Shared with every coroutine: false once the Transport is destroyed, so
    // a coroutine resumed afterwards returns without touching a member.
    struct Liveness {
        bool alive = true;
    };

    boost::asio::io_context& io_;
    const TransportConfig config_;
    boost::asio::ip::tcp::acceptor acceptor_;
    uint16_t port_ = 0;
    bool stopped_ = false;
    bool partitioned_ = false;
    MessageHandler on_message_;
    RequestHandler on_request_;
    std::map<uint64_t, std::shared_ptr<Peer>> peers_;
    uint32_t next_request_id_ = 1;
    std::map<uint32_t, std::shared_ptr<Pending>> pending_;
    TransportStats stats_;
    const std::shared_ptr<Liveness> live_;
};

}  // namespace cleave::rpc
