#include "node/remote.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include <boost/asio/co_spawn.hpp>

namespace cleave::node {

namespace asio = boost::asio;

namespace {

// co_spawn's result must be default-constructible; Result<T> is not.
asio::awaitable<std::optional<Result<std::string>>> call_one(rpc::Transport& t, uint64_t peer,
                                                             std::string body, int64_t timeout_ms,
                                                             std::shared_ptr<bool> sent = nullptr) {
    if (sent) {
        // On the io thread: connected() is not safe anywhere else.
        *sent = t.connected(peer);
        if (!*sent)
            co_return std::optional<Result<std::string>>(
                Status::unavailable(fmt::format("no connection to node {}", peer)));
    }
    auto call = t.call(peer, std::move(body), timeout_ms);
    Result<std::string> r = co_await std::move(call);
    co_return std::optional<Result<std::string>>(std::move(r));
}

struct Tally {
    std::mutex mu;
    std::condition_variable cv;
    size_t ok = 0;
    size_t done = 0;
    std::optional<Result<std::string>> first;
};

}  // namespace

Result<std::string> Remote::call(uint64_t peer, std::string body,
                                 std::chrono::milliseconds timeout) {
    return call_impl(peer, std::move(body), timeout, nullptr);
}

Result<std::string> Remote::call_if_connected(uint64_t peer, std::string body,
                                              std::chrono::milliseconds timeout, bool* sent) {
    auto flag = std::make_shared<bool>(false);
    auto r = call_impl(peer, std::move(body), timeout, flag);
    *sent = *flag;
    return r;
}

Result<std::string> Remote::call_impl(uint64_t peer, std::string body,
                                      std::chrono::milliseconds timeout,
                                      std::shared_ptr<bool> sent) {
    auto tally = std::make_shared<Tally>();
    asio::co_spawn(io_, call_one(transport_, peer, std::move(body), timeout.count(), sent),
                   [tally](std::exception_ptr e, std::optional<Result<std::string>> r) {
                       std::lock_guard lock(tally->mu);
                       if (e || !r) r = Status::internal("call failed");
                       tally->first = std::move(r);
                       tally->done = 1;
                       tally->cv.notify_all();
                   });
    std::unique_lock lock(tally->mu);
    // The transport times the call out itself; the margin covers scheduling.
    if (!tally->cv.wait_for(lock, timeout + std::chrono::seconds(2),
                            [&] { return tally->done == 1; }))
        return Status::unavailable("call to peer timed out");
    return std::move(*tally->first);
}

bool Remote::call_quorum(const std::vector<uint64_t>& peers, const std::string& body, size_t need,
                         std::chrono::milliseconds timeout) {
    if (need == 0) return true;
    auto tally = std::make_shared<Tally>();
    for (uint64_t peer : peers) {
        asio::co_spawn(io_, call_one(transport_, peer, body, timeout.count()),
                       [tally](std::exception_ptr e, std::optional<Result<std::string>> r) {
                           std::lock_guard lock(tally->mu);
                           if (!e && r && r->is_ok()) ++tally->ok;
                           ++tally->done;
                           tally->cv.notify_all();
                       });
    }
    std::unique_lock lock(tally->mu);
    tally->cv.wait_for(lock, timeout + std::chrono::seconds(2), [&] {
        return tally->ok >= need || tally->ok + (peers.size() - tally->done) < need;
    });
    return tally->ok >= need;
}

}  // namespace cleave::node
