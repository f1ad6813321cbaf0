#pragma once
// Test support: a private redis-server process on a free loopback port with
// its own temporary directory, for the Redis engine's tests. Built into
// storage_test only.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace cleave::storage {

class RedisTestServer {
  public:
    static constexpr const char* kBinary = "/usr/bin/redis-server";
    static bool available();

    // Durable by default (appendonly yes, appendfsync always); `extra_args`
    // are appended to the command line (later settings win).
    explicit RedisTestServer(std::vector<std::string> extra_args = {});
    ~RedisTestServer();
    RedisTestServer(const RedisTestServer&) = delete;
    RedisTestServer& operator=(const RedisTestServer&) = delete;

    // Starts the server and waits (bounded) until it answers PING. The server
    // is killed if the calling thread exits (PR_SET_PDEATHSIG), so call this
    // and restart() from the test's main thread.
    Status start();
    // SIGKILL: a crash, no shutdown work (the AOF is what was fsynced).
    void kill();
    // kill() then start() on the same port and directory: reloads the AOF.
    Status restart();

    int port() const { return port_; }
    std::string url(int db = 0) const;
    const std::string& dir() const { return dir_; }

  private:
    Status launch(int port);

    std::vector<std::string> extra_args_;
    std::string dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace cleave::storage
