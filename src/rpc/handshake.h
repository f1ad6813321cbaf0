#pragma once
// Peer authentication by a shared cluster secret (DESIGN.md §9): a
// challenge-response in three frames, mutual, and never sending the secret.
//
//   dialer                                   acceptor
//     Hello{node A, cluster, nonce_a}  ───▶
//                                       ◀─── Challenge{node B, nonce_b, proof_b}
//     checks proof_b
//     Auth{proof_a}                    ───▶   checks proof_a
//
//   proof_x = HMAC-SHA256(secret, role_x ‖ cluster ‖ A ‖ B ‖ nonce_a ‖ nonce_b)
//
// Both nonces are fresh per connection, so a recorded handshake can't be
// replayed; the role string stops a reflection of one side's proof as the
// other's. Pure: nonces are passed in, frames come in and go out.

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "rpc/frame.h"

namespace cleave::rpc {

struct HandshakeConfig {
    uint64_t node_id = 0;
    std::string cluster = "cleave";
    std::string secret;  // the cluster secret; must not be empty
};

class DialerHandshake {
  public:
    DialerHandshake(HandshakeConfig config, std::string nonce);
    Frame hello() const;
    // Takes the acceptor's Challenge; returns the Auth frame to send.
    // Errors: unauthenticated peers get Errc::precondition_failed.
    Result<Frame> on_challenge(const Frame& frame);
    bool done() const { return done_; }
    uint64_t peer_node_id() const { return peer_; }

  private:
    const HandshakeConfig config_;
    const std::string nonce_;
    uint64_t peer_ = 0;
    bool done_ = false;
};

class AcceptorHandshake {
  public:
    AcceptorHandshake(HandshakeConfig config, std::string nonce);
    // Takes the dialer's Hello; returns the Challenge to send.
    Result<Frame> on_hello(const Frame& frame);
    // Takes the dialer's Auth; OK means the peer is authenticated.
    Status on_auth(const Frame& frame);
    bool done() const { return done_; }
    uint64_t peer_node_id() const { return peer_; }

  private:
    const HandshakeConfig config_;
    const std::string nonce_;
    std::string peer_nonce_;
    uint64_t peer_ = 0;
    bool done_ = false;
};

// The proof a side sends; exposed for tests.
std::string handshake_proof(const std::string& secret, std::string_view role,
                            std::string_view cluster, uint64_t dialer, uint64_t acceptor,
                            std::string_view dialer_nonce, std::string_view acceptor_nonce);

}  // namespace cleave::rpc
