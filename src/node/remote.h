#pragma once
// Blocking calls to other nodes for threads that are not the transport's
// (the S3 layer's blocking pool): each call runs as a coroutine on the
// transport's io_context, and the calling thread waits for its answer.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/status.h"
#include "rpc/transport.h"

namespace cleave::node {

class Remote {
  public:
    Remote(boost::asio::io_context& io, rpc::Transport& transport)
        : io_(io), transport_(transport) {}

    Result<std::string> call(uint64_t peer, std::string body, std::chrono::milliseconds timeout);
    // As call(), but only when a connection to the peer is up: otherwise
    // fails at once with `*sent` false — the request certainly never left,
    // so the caller may retry it elsewhere without doubling it.
    Result<std::string> call_if_connected(uint64_t peer, std::string body,
                                          std::chrono::milliseconds timeout, bool* sent);
    // Sends `body` to every peer at once and returns as soon as `need` of
    // them answered OK (true), or once that can no longer happen (false).
    // The calls still outstanding finish in the background.
    bool call_quorum(const std::vector<uint64_t>& peers, const std::string& body, size_t need,
                     std::chrono::milliseconds timeout);

  private:
    Result<std::string> call_impl(uint64_t peer, std::string body,
                                  std::chrono::milliseconds timeout, std::shared_ptr<bool> sent);

    boost::asio::io_context& io_;
    rpc::Transport& transport_;
};

}  // namespace cleave::node
