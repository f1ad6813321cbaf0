#include "rpc/handshake.h"

#include <gtest/gtest.h>

namespace cleave::rpc {
namespace {

HandshakeConfig cfg(uint64_t id, std::string secret, std::string cluster = "c1") {
    return HandshakeConfig{id, std::move(cluster), std::move(secret)};
}

TEST(Handshake, MutualAuthenticationWithTheSameSecret) {
    DialerHandshake d(cfg(1, "s3cret"), std::string(16, 'a'));
    AcceptorHandshake a(cfg(2, "s3cret"), std::string(16, 'b'));
    auto challenge = a.on_hello(d.hello());
    ASSERT_TRUE(challenge.is_ok()) << challenge.status().to_string();
    auto auth = d.on_challenge(*challenge);
    ASSERT_TRUE(auth.is_ok()) << auth.status().to_string();
    ASSERT_TRUE(a.on_auth(*auth).is_ok());
    EXPECT_TRUE(d.done());
    EXPECT_TRUE(a.done());
    EXPECT_EQ(d.peer_node_id(), 2u);
    EXPECT_EQ(a.peer_node_id(), 1u);
}

TEST(Handshake, WrongSecretIsRefusedOnBothSides) {
    // Acceptor with another secret: the dialer refuses its challenge.
    DialerHandshake d(cfg(1, "right"), std::string(16, 'a'));
    AcceptorHandshake wrong(cfg(2, "wrong"), std::string(16, 'b'));
    auto challenge = wrong.on_hello(d.hello());
    ASSERT_TRUE(challenge.is_ok());
    EXPECT_EQ(d.on_challenge(*challenge).status().code(), Errc::precondition_failed);

    // Dialer with another secret: the acceptor refuses its auth.
    DialerHandshake bad(cfg(3, "wrong"), std::string(16, 'c'));
    AcceptorHandshake a(cfg(2, "right"), std::string(16, 'd'));
    auto c2 = a.on_hello(bad.hello());
    ASSERT_TRUE(c2.is_ok());
    // The bad dialer can't verify the acceptor either; forge an auth from
    // its own (wrong) secret.
    Frame forged{FrameKind::auth, 0, {}};
    EXPECT_FALSE(a.on_auth(forged).is_ok());
    EXPECT_FALSE(a.done());
}

TEST(Handshake, OtherClusterAndReplayedAuthAreRefused) {
    DialerHandshake d(cfg(1, "s", "other"), std::string(16, 'a'));
    AcceptorHandshake a(cfg(2, "s", "c1"), std::string(16, 'b'));
    EXPECT_EQ(a.on_hello(d.hello()).status().code(), Errc::precondition_failed);

    // An auth recorded from one connection does not open another (fresh nonce).
    DialerHandshake d1(cfg(1, "s"), std::string(16, 'a'));
    AcceptorHandshake a1(cfg(2, "s"), std::string(16, 'b'));
    auto auth1 = d1.on_challenge(*a1.on_hello(d1.hello()));
    ASSERT_TRUE(auth1.is_ok());
    AcceptorHandshake a2(cfg(2, "s"), std::string(16, 'z'));
    ASSERT_TRUE(a2.on_hello(d1.hello()).is_ok());
    EXPECT_FALSE(a2.on_auth(*auth1).is_ok());
}

}  // namespace
}  // namespace cleave::rpc
