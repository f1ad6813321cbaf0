#include "rpc/handshake.h"

#include <openssl/crypto.h>

#include "common/hash.h"
#include "rpc/rpc.pb.h"

namespace cleave::rpc {

namespace {
constexpr size_t kNonceBytes = 16;
constexpr std::string_view kDialerRole = "cleave-dialer";
constexpr std::string_view kAcceptorRole = "cleave-acceptor";

std::string be64(uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    return out;
}

bool same(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Status reject(std::string why) { return Status::precondition_failed("peer handshake: " + why); }
}  // namespace

std::string handshake_proof(const std::string& secret, std::string_view role,
                            std::string_view cluster, uint64_t dialer, uint64_t acceptor,
                            std::string_view dialer_nonce, std::string_view acceptor_nonce) {
    std::string transcript;
    // Length-prefix the variable parts so no two transcripts collide.
    for (std::string_view part : {role, cluster, dialer_nonce, acceptor_nonce}) {
        transcript += be64(part.size());
        transcript += part;
    }
    transcript += be64(dialer);
    transcript += be64(acceptor);
    return hmac_sha256(secret, transcript);
}

DialerHandshake::DialerHandshake(HandshakeConfig config, std::string nonce)
    : config_(std::move(config)), nonce_(std::move(nonce)) {
    CLEAVE_ASSERT(!config_.secret.empty(), "empty cluster secret");
    CLEAVE_ASSERT(nonce_.size() == kNonceBytes, "nonce of {} bytes", nonce_.size());
}

Frame DialerHandshake::hello() const {
    Hello h;
    h.set_node_id(config_.node_id);
    h.set_cluster(config_.cluster);
    h.set_nonce(nonce_);
    return Frame{FrameKind::hello, 0, h.SerializeAsString()};
}

Result<Frame> DialerHandshake::on_challenge(const Frame& frame) {
    if (done_) return reject("unexpected frame after the handshake");
    Challenge c;
    if (frame.kind != FrameKind::challenge || !c.ParseFromString(frame.body)) {
        return reject("expected a challenge");
    }
    if (c.nonce().size() != kNonceBytes) return reject("bad acceptor nonce");
    std::string want = handshake_proof(config_.secret, kAcceptorRole, config_.cluster,
                                       config_.node_id, c.node_id(), nonce_, c.nonce());
    if (!same(want, c.proof())) return reject("acceptor does not know the cluster secret");
    peer_ = c.node_id();
    done_ = true;
    Auth a;
    a.set_proof(handshake_proof(config_.secret, kDialerRole, config_.cluster, config_.node_id,
                                peer_, nonce_, c.nonce()));
    return Frame{FrameKind::auth, 0, a.SerializeAsString()};
}

AcceptorHandshake::AcceptorHandshake(HandshakeConfig config, std::string nonce)
    : config_(std::move(config)), nonce_(std::move(nonce)) {
    CLEAVE_ASSERT(!config_.secret.empty(), "empty cluster secret");
    CLEAVE_ASSERT(nonce_.size() == kNonceBytes, "nonce of {} bytes", nonce_.size());
}

Result<Frame> AcceptorHandshake::on_hello(const Frame& frame) {
    if (!peer_nonce_.empty()) return reject("second hello");
    Hello h;
    if (frame.kind != FrameKind::hello || !h.ParseFromString(frame.body)) {
        return reject("expected a hello");
    }
    if (h.cluster() != config_.cluster) {
        return reject(
            fmt::format("peer is in cluster '{}', not '{}'", h.cluster(), config_.cluster));
    }
    if (h.nonce().size() != kNonceBytes) return reject("bad dialer nonce");
    if (h.node_id() == config_.node_id) return reject("peer claims our own node id");
    peer_ = h.node_id();
    peer_nonce_ = h.nonce();
    Challenge c;
    c.set_node_id(config_.node_id);
    c.set_nonce(nonce_);
    c.set_proof(handshake_proof(config_.secret, kAcceptorRole, config_.cluster, peer_,
                                config_.node_id, peer_nonce_, nonce_));
    return Frame{FrameKind::challenge, 0, c.SerializeAsString()};
}

Status AcceptorHandshake::on_auth(const Frame& frame) {
    if (peer_nonce_.empty() || done_) return reject("unexpected auth");
    Auth a;
    if (frame.kind != FrameKind::auth || !a.ParseFromString(frame.body)) {
        return reject("expected auth");
    }
    std::string want = handshake_proof(config_.secret, kDialerRole, config_.cluster, peer_,
                                       config_.node_id, peer_nonce_, nonce_);
    if (!same(want, a.proof())) return reject("dialer does not know the cluster secret");
    done_ = true;
    return Status::ok();
}

}  // namespace cleave::rpc
