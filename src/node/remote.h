#pragma once
// Blocking calls to other nodes for threads that are not the transport's
// (the S3 layer's blocking pool): each call runs as a coroutine on the
// transport's io_context, and the calling thread waits for its answer.

#include <chrono>
#include <cstdint>
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
    // Sends `body` to every peer at once and returns as soon as `need` of
    // them answered OK (true), or once that can no longer happen (false).
    // The calls still outstanding finish in the background.
    bool call_quorum(const std::vector<uint64_t>& peers, const std::string& body, size_t need,
                     std::chrono::milliseconds timeout);

  private:
    boost::asio::io_context& io_;
    rpc::Transport& transport_;
};

}  // namespace cleave::node
