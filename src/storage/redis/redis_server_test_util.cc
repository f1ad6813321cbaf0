#include "storage/redis/redis_server_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

namespace cleave::storage {

namespace {

// A port the kernel just handed out for loopback, released again. Another
// process could take it before redis binds; start() retries on failure.
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    CLEAVE_ASSERT(fd >= 0, "socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CLEAVE_ASSERT(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind failed");
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool answers_ping(int port) {
    const struct timeval tv = {0, 200 * 1000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c) return false;
    bool ok = false;
    if (!c->err) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "PONG";
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

}  // namespace

bool RedisTestServer::available() { return ::access(kBinary, X_OK) == 0; }

RedisTestServer::RedisTestServer(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cleave-redis-XXXXXX";
    CLEAVE_ASSERT(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
    dir_ = tmpl;
}

RedisTestServer::~RedisTestServer() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string RedisTestServer::url(int db) const {
    return fmt::format("redis://127.0.0.1:{}/{}", port_, db);
}

Status RedisTestServer::launch(int port) {
    CLEAVE_ASSERT(pid_ < 0, "redis-server already running");
    port_ = port;
    std::vector<std::string> args = {kBinary,
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log",
                                     "--daemonize",
                                     "no",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn: the child must die with this
    // process (a crashed test must not leave servers behind) and must not hold
    // our stdout open.
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return Status::io_error(fmt::format("cannot fork for {}", kBinary));
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        ::execv(kBinary, argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    // Bounded wait for PING; give up early if the process died (e.g. the
    // port was taken meanwhile).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        if (answers_ping(port_)) return Status::ok();
        int wstatus = 0;
        if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
    }
    kill();
    return Status::unavailable(
        fmt::format("redis-server on port {} did not answer PING (see {}/redis.log)", port_, dir_));
}

Status RedisTestServer::start() {
    Status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
        s = launch(free_port());
        if (s.is_ok()) return s;
    }
    return s;
}

void RedisTestServer::kill() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
    pid_ = -1;
}

Status RedisTestServer::restart() {
    kill();
    // Same port, so engines holding the url reconnect to the new process.
    return launch(port_);
}

}  // namespace cleave::storage
