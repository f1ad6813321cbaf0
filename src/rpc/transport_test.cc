#include "rpc/transport.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace cleave::rpc {
namespace {

namespace asio = boost::asio;

TransportConfig config(uint64_t id, std::string secret = "cluster-secret") {
    TransportConfig c;
    c.node_id = id;
    c.secret = std::move(secret);
    c.call_timeout_ms = 2000;
    return c;
}

// Runs the io_context until `done` holds, failing after a bounded number of
// handler runs (no wall-clock sleeps: the loop advances by events).
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, int max_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        io.restart();
        io.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
}

TEST(Transport, CallsAndMessagesFlowBothWays) {
    asio::io_context io;
    Transport a(io, config(1)), b(io, config(2));
    ASSERT_TRUE(a.start().is_ok());
    ASSERT_TRUE(b.start().is_ok());
    std::vector<std::pair<uint64_t, std::string>> got_a, got_b;
    a.on_message([&](uint64_t from, std::string body) { got_a.emplace_back(from, body); });
    b.on_message([&](uint64_t from, std::string body) { got_b.emplace_back(from, body); });
    b.on_request([](uint64_t from, std::string body) -> asio::awaitable<Result<std::string>> {
        if (body == "fail") co_return Status::not_found("no such thing");
        co_return "echo:" + body + ":from" + std::to_string(from);
    });
    a.set_peer(2, "127.0.0.1", b.port());
    b.set_peer(1, "127.0.0.1", a.port());
    // Frames queued before the connection exists are delivered once it is up.
    ASSERT_TRUE(a.send(2, "early").is_ok());
    ASSERT_TRUE(b.send(1, "to-a").is_ok());

    std::optional<Result<std::string>> r1, r2;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            // Named arguments: GCC 12 double-destroys temporaries in co_await.
            std::string hi = "hi", fail = "fail";
            r1 = co_await a.call(2, std::move(hi));
            r2 = co_await a.call(2, std::move(fail));
        },
        asio::detached);
    ASSERT_TRUE(
        run_until(io, [&] { return r2.has_value() && got_a.size() == 1 && got_b.size() == 1; }));
    ASSERT_TRUE(r1->is_ok()) << r1->status().to_string();
    EXPECT_EQ(r1->value(), "echo:hi:from1");
    EXPECT_EQ(r2->status().code(), Errc::not_found);
    EXPECT_EQ(r2->status().message(), "no such thing");
    EXPECT_EQ(got_b[0], (std::pair<uint64_t, std::string>{1, "early"}));
    EXPECT_EQ(got_a[0], (std::pair<uint64_t, std::string>{2, "to-a"}));
    // One connection for the pair.
    EXPECT_EQ(a.stats().connections_opened, 1u);
    EXPECT_EQ(b.stats().connections_opened, 1u);
}

TEST(Transport, FramesRightBehindTheHandshakeArriveIntact) {
    // The dialer's queued frames follow its auth on the wire at once; the
    // acceptor's handshake decoder may hold whole ones, ones above its small
    // limit, or the start of one. All must arrive whole and in order.
    for (int round = 0; round < 5; ++round) {
        asio::io_context io;
        Transport a(io, config(1)), b(io, config(2));
        ASSERT_TRUE(a.start().is_ok());
        ASSERT_TRUE(b.start().is_ok());
        std::vector<std::string> got;
        b.on_message([&](uint64_t, std::string body) { got.push_back(std::move(body)); });
        a.set_peer(2, "127.0.0.1", b.port());
        b.set_peer(1, "127.0.0.1", a.port());
        // Queued before the io_context runs: all of it is written right
        // behind the dialer's auth.
        std::vector<std::string> sent;
        for (int i = 0; i < 6; ++i) {
            std::string body(i % 2 ? 300000 : 10 + i, static_cast<char>('a' + i));
            sent.push_back(body);
            ASSERT_TRUE(a.send(2, body).is_ok());
        }
        ASSERT_TRUE(run_until(
            io, [&] { return got.size() == sent.size(); }, 10000))
            << "round " << round << ": " << got.size() << " of " << sent.size();
        EXPECT_EQ(got, sent);
        EXPECT_EQ(b.stats().connections_opened, 1u);
    }
}

TEST(Transport, WrongSecretNeverConnects) {
    asio::io_context io;
    Transport a(io, config(1, "one")), b(io, config(2, "two"));
    ASSERT_TRUE(a.start().is_ok());
    ASSERT_TRUE(b.start().is_ok());
    int delivered = 0;
    b.on_message([&](uint64_t, std::string) { ++delivered; });
    a.set_peer(2, "127.0.0.1", b.port());
    ASSERT_TRUE(a.send(2, "x").is_ok());
    ASSERT_TRUE(run_until(
        io, [&] { return b.stats().handshakes_refused + a.stats().handshakes_refused >= 2; }));
    EXPECT_FALSE(a.connected(2));
    EXPECT_EQ(delivered, 0);
}

TEST(Transport, ReconnectsAfterThePeerRestarts) {
    asio::io_context io;
    Transport a(io, config(1));
    ASSERT_TRUE(a.start().is_ok());
    auto b = std::make_unique<Transport>(io, config(2));
    ASSERT_TRUE(b->start().is_ok());
    uint16_t port = b->port();
    int delivered = 0;
    b->on_message([&](uint64_t, std::string) { ++delivered; });
    a.set_peer(2, "127.0.0.1", port);
    ASSERT_TRUE(a.send(2, "1").is_ok());
    ASSERT_TRUE(run_until(io, [&] { return delivered == 1; }));
    b->stop();
    b.reset();
    ASSERT_TRUE(run_until(io, [&] { return !a.connected(2); }));
    // A new process on the same port.
    TransportConfig c = config(2);
    c.listen_port = port;
    Transport b2(io, c);
    ASSERT_TRUE(b2.start().is_ok());
    int delivered2 = 0;
    b2.on_message([&](uint64_t, std::string) { ++delivered2; });
    ASSERT_TRUE(a.send(2, "2").is_ok());
    ASSERT_TRUE(run_until(io, [&] { return delivered2 == 1; }));
    EXPECT_GE(a.stats().connections_opened, 2u);
}

TEST(Transport, FullQueueRefusesInsteadOfGrowing) {
    asio::io_context io;
    TransportConfig c = config(1);
    c.max_queued_frames = 3;
    Transport a(io, c);
    ASSERT_TRUE(a.start().is_ok());
    a.set_peer(2, "127.0.0.1", 1);  // nobody listens there
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.send(2, "x").is_ok());
    Status s = a.send(2, "x");
    EXPECT_EQ(s.code(), Errc::unavailable);
    EXPECT_EQ(a.stats().sends_refused, 1u);
    EXPECT_EQ(a.send(99, "x").code(), Errc::unavailable);  // unknown peer
    a.stop();
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace cleave::rpc
