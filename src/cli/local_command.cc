#include "cli/local_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "cli/process_setup.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/random.h"
#include "node/cluster_view.h"

namespace cleave::cli {

namespace {

using Clock = std::chrono::steady_clock;

int fail(const std::string& what) {
    std::fprintf(stderr, "cleave local: %s\n", what.c_str());
    return 1;
}

using node::json_string;

Status write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Status::io_error("cannot write " + path);
    return Status::ok();
}

Result<std::string> cluster_secret(const std::string& dir) {
    const std::string path = dir + "/cluster-secret";
    std::ifstream in(path);
    std::string secret;
    if (in && std::getline(in, secret) && !secret.empty()) return secret;
    secret = to_hex(os_random_bytes(32));
    CLEAVE_RETURN_IF_ERROR(write_file(path, secret + "\n"));
    ::chmod(path.c_str(), 0600);
    return secret;
}

// GET /_cleave/health on host:port; true on HTTP 200.
bool healthy(const std::string& host, unsigned port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string req =
            "GET /_cleave/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
        if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
            char buf[64] = {};
            ssize_t n = ::read(fd, buf, sizeof buf - 1);
            ok = n > 12 && std::string_view(buf, static_cast<size_t>(n)).substr(9, 3) == "200";
        }
    }
    ::close(fd);
    return ok;
}

std::string tail_of(const std::string& path, size_t bytes = 2000) {
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

pid_t read_pid(const std::string& path) {
    std::ifstream in(path);
    long pid = 0;
    in >> pid;
    return in ? static_cast<pid_t>(pid) : 0;
}

struct NodeProc {
    unsigned k = 0;
    std::string dir;
    std::string host;
    pid_t child = 0;  // the process we started (0 once reaped)
};

// Reaps exited children without blocking; says which node went.
void reap(std::vector<NodeProc>& nodes) {
    while (true) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        for (auto& n : nodes) {
            if (n.child != pid) continue;
            n.child = 0;
            std::fprintf(stderr, "cleave local: node %u (pid %d) exited (%s %d)\n", n.k, pid,
                         WIFSIGNALED(status) ? "signal" : "status",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
}

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

void stop_all(std::vector<NodeProc>& nodes) {
    // Whatever process each pid file names now (a node restarted by hand
    // included), and the processes we started.
    std::vector<pid_t> pids;
    for (auto& n : nodes) {
        pid_t p = read_pid(n.dir + "/pid");
        if (p > 0) pids.push_back(p);
        if (n.child > 0 && n.child != p) pids.push_back(n.child);
    }
    for (pid_t p : pids)
        if (alive(p)) ::kill(p, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
        reap(nodes);
        bool any = false;
        for (pid_t p : pids) any = any || alive(p);
        if (!any) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (pid_t p : pids)
        if (alive(p)) ::kill(p, SIGKILL);
    reap(nodes);
}

}  // namespace

void add_local_options(CLI::App& cmd, LocalOptions& o) {
    cmd.add_option("--nodes", o.nodes, "Number of node processes")->check(CLI::Range(1, 9));
    cmd.add_option("--data", o.data_dir, "Directory for every node's data (DIR/nodeK)");
    cmd.add_option("--s3-port", o.s3_port, "S3 port of every node (on 127.0.0.K)")
        ->check(CLI::Range(1, 65534));
    cmd.add_option("--engine", o.engine, "Storage engine of the nodes: rocksdb or memory")
        ->check(CLI::IsMember({"rocksdb", "memory"}));
    cmd.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off");
    add_cluster_tuning_options(cmd, o.tuning);
    cmd.add_option("--ready-timeout", o.ready_timeout_s, "Seconds to wait for every node");
}

int run_local(const LocalOptions& o) {
    std::error_code ec;
    std::filesystem::create_directories(o.data_dir, ec);
    if (ec) return fail("cannot create " + o.data_dir + ": " + ec.message());
    const std::string dir = std::filesystem::absolute(o.data_dir).lexically_normal().string();
    auto lock_fd = lock_data_dir(dir);
    if (!lock_fd.is_ok()) return fail(lock_fd.status().message());
    auto creds = load_credentials(dir);
    if (!creds.is_ok()) return fail("credentials: " + creds.status().to_string());
    auto secret = cluster_secret(dir);
    if (!secret.is_ok()) return fail(secret.status().to_string());
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return fail("cannot find my own binary: " + ec.message());

    std::string join;
    for (unsigned k = 1; k <= o.nodes; ++k)
        join += fmt::format("{}127.0.0.{}:{}", k == 1 ? "" : ",", k, o.s3_port + 1);
    const std::map<std::string, std::string> env = {
        {"CLEAVE_ACCESS_KEY", creds->access_key},
        {"CLEAVE_SECRET_KEY", creds->secret_key},
        {"CLEAVE_CLUSTER_SECRET", *secret},
    };

    // SIGCHLD joins the signals we wait for: a node that dies is reaped (no
    // zombie that would look alive to whoever reads its pid file).
    sigset_t signals = block_stop_signals();
    sigaddset(&signals, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::vector<NodeProc> nodes;
    for (unsigned k = 1; k <= o.nodes; ++k) {
        NodeProc n{k, fmt::format("{}/node{}", dir, k), fmt::format("127.0.0.{}", k), 0};
        std::filesystem::create_directories(n.dir, ec);
        if (ec) return fail("cannot create " + n.dir + ": " + ec.message());
        std::vector<std::string> argv = {exe,
                                         "server",
                                         "--data",
                                         n.dir,
                                         "--listen",
                                         fmt::format("{}:{}", n.host, o.s3_port),
                                         "--cluster-listen",
                                         fmt::format("{}:{}", n.host, o.s3_port + 1),
                                         "--join",
                                         join,
                                         "--node-id",
                                         std::to_string(k),
                                         "--engine",
                                         o.engine,
                                         "--log-level",
                                         o.log_level};
        for (auto& a : cluster_tuning_args(o.tuning)) argv.push_back(std::move(a));
        std::string cmdline = "[";
        for (size_t i = 0; i < argv.size(); ++i) cmdline += (i ? ", " : "") + json_string(argv[i]);
        cmdline += "]\n";
        std::string env_json = "{";
        for (auto it = env.begin(); it != env.end(); ++it)
            env_json += (it == env.begin() ? "" : ", ") + json_string(it->first) + ": " +
                        json_string(it->second);
        env_json += "}\n";
        if (Status s = write_file(n.dir + "/cmdline", cmdline); !s.is_ok())
            return fail(s.to_string());
        if (Status s = write_file(n.dir + "/env.json", env_json); !s.is_ok())
            return fail(s.to_string());
        const std::string log_path = n.dir + "/log";

        pid_t pid = ::fork();
        if (pid < 0) return fail("fork failed");
        if (pid == 0) {
            sigset_t none;
            sigemptyset(&none);
            pthread_sigmask(SIG_SETMASK, &none, nullptr);
            ::setpgid(0, 0);  // a terminal's ^C reaches `cleave local`, which stops the nodes
            int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
            for (const auto& [k2, v] : env) ::setenv(k2.c_str(), v.c_str(), 1);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(exe.c_str(), args.data());
            std::_Exit(127);
        }
        n.child = pid;
        nodes.push_back(n);
    }

    // Wait until every node serves (its shard has a leader).
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.ready_timeout_s * 1000));
    std::vector<bool> ready(nodes.size(), false);
    while (true) {
        reap(nodes);
        bool all = true;
        for (size_t i = 0; i < nodes.size(); ++i) {
            if (nodes[i].child == 0 && !ready[i]) {
                std::string why = tail_of(nodes[i].dir + "/log");
                stop_all(nodes);
                return fail(fmt::format("node {} exited while starting; its log ends:\n{}",
                                        nodes[i].k, why));
            }
            if (!ready[i]) ready[i] = healthy(nodes[i].host, o.s3_port);
            all = all && ready[i];
        }
        if (all) break;
        if (Clock::now() > deadline) {
            stop_all(nodes);
            return fail(fmt::format("the nodes were not serving after {} s (see {}/nodeK/log)",
                                    o.ready_timeout_s, dir));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string endpoints;
    for (const auto& n : nodes) endpoints += fmt::format(" http://{}:{}", n.host, o.s3_port);
    std::printf("ready: S3 endpoints%s\n", endpoints.c_str());
    std::printf("  access key: %s\n  secret key: %s\n", creds->access_key.c_str(),
                creds->secret_key.c_str());
    std::printf("  status: cleave admin --endpoint http://%s:%u status\n", nodes[0].host.c_str(),
                o.s3_port);
    std::fflush(stdout);

    while (true) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGCHLD) {
            reap(nodes);
            continue;
        }
        std::fprintf(stderr, "cleave local: signal %d: stopping the nodes\n", sig);
        break;
    }
    stop_all(nodes);
    ::close(*lock_fd);
    return 0;
}

}  // namespace cleave::cli
