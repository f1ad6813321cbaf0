#include "cli/server_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/net_address.h"
#include "cli/process_setup.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/random.h"
#include "node/node.h"
#include "s3/server.h"

namespace cleave::cli {

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("cli");
    return l;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "cleave server: %s\n", what.c_str());
    return 1;
}

Status write_pid_file(const std::string& path) {
    std::ofstream out(path, std::ios::trunc);
    out << ::getpid() << "\n";
    out.close();
    if (!out) return Status::io_error("cannot write " + path);
    return Status::ok();
}

}  // namespace

void add_server_options(CLI::App& cmd, ServerOptions& o) {
    add_dev_options(cmd, o.base, /*one_node=*/false);
    cmd.add_option("--join", o.join,
                   "Cluster addresses of the initial members: HOST:PORT,HOST:PORT,... or one "
                   "DNS name HOST:PORT with several addresses")
        ->required();
    cmd.add_option("--cluster-listen", o.cluster_listen,
                   "Node-to-node address HOST:PORT (default: the --listen host, port + 1)");
    cmd.add_option("--node-id", o.node_id,
                   "This node's id (default: its position in --join, from 1). An id above the "
                   "number of --join members adds a new node to a running cluster");
    add_cluster_tuning_options(cmd, o.tuning);
}

int run_server(const ServerOptions& o) {
    const DevOptions& b = o.base;
    set_log_level(b.log_level);
    auto s3_addr = parse_host_port(b.listen);
    if (!s3_addr.is_ok()) return fail("--listen: " + s3_addr.status().message());
    HostPort cluster_addr{s3_addr->host, static_cast<uint16_t>(s3_addr->port + 1)};
    if (!o.cluster_listen.empty()) {
        auto c = parse_host_port(o.cluster_listen);
        if (!c.is_ok()) return fail("--cluster-listen: " + c.status().message());
        cluster_addr = *c;
    }
    // A gateway dials every member and is dialed by none: its node-to-node
    // endpoint may take any free port.
    if (o.gateway && o.cluster_listen.empty()) cluster_addr.port = 0;
    if (!o.gateway && (s3_addr->port == 0 || cluster_addr.port == 0))
        return fail("a cluster member needs fixed ports (--listen and --cluster-listen)");
    auto seeds = resolve_seeds(o.join);
    if (!seeds.is_ok()) return fail("--join: " + seeds.status().message());
    if (b.engine == "redis" && b.redis_url.empty()) return fail("--engine redis needs --redis-url");

    node::NodeConfig nc;
    for (size_t i = 0; i < seeds->size(); ++i) {
        const auto& s = (*seeds)[i];
        nc.members[NodeId{i + 1}] = node::PeerAddress{s.host, s.port};
        if (o.node_id == 0 && s.port == cluster_addr.port && s.host == cluster_addr.host) {
            nc.id = NodeId{i + 1};
        }
    }
    if (o.gateway) {
        // An id no member has (members are 1..N): random, far above them.
        uint64_t r = 0;
        for (char c : os_random_bytes(5)) r = (r << 8) | static_cast<unsigned char>(c);
        nc.id = NodeId{(uint64_t{1} << 40) | r};
        nc.gateway_only = true;
    } else if (o.node_id != 0) {
        // Above the initial members: a node joining the running cluster
        // (the placement driver gives it its share of replicas).
        if (o.node_id > seeds->size() &&
            std::any_of(seeds->begin(), seeds->end(), [&](const HostPort& s) {
                return s.port == cluster_addr.port && s.host == cluster_addr.host;
            }))
            return fail(fmt::format(
                "--node-id {} joins the cluster, but this node's cluster address {}:{} is one "
                "of the --join members",
                o.node_id, cluster_addr.host, cluster_addr.port));
        nc.id = NodeId{o.node_id};
    }
    if (!o.gateway && nc.id.value() == 0) {
        return fail(
            fmt::format("this node's cluster address {}:{} is not in --join ({}); pass --node-id",
                        cluster_addr.host, cluster_addr.port, o.join));
    }

    std::error_code ec;
    std::filesystem::create_directories(b.data_dir, ec);
    if (ec) return fail("cannot create " + b.data_dir + ": " + ec.message());
    auto lock_fd = lock_data_dir(b.data_dir);
    if (!lock_fd.is_ok()) return fail(lock_fd.status().message());
    const sigset_t signals = block_stop_signals();
    if (Status s = write_pid_file(b.data_dir + "/pid"); !s.is_ok()) return fail(s.to_string());

    auto creds = load_credentials(b.data_dir);
    if (!creds.is_ok()) return fail("credentials: " + creds.status().to_string());
    const char* secret = std::getenv("CLEAVE_CLUSTER_SECRET");
    if (secret && *secret) {
        nc.cluster_secret = secret;
    } else {
        // Every member shares the S3 secret anyway; derive from it rather
        // than refuse, and say so.
        nc.cluster_secret = to_hex(hmac_sha256(creds->secret_key, "cleave cluster secret"));
        log()->warn("CLEAVE_CLUSTER_SECRET is not set; using one derived from the S3 secret key");
    }
    nc.data_dir = b.data_dir;
    nc.s3_address = fmt::format("{}:{}", s3_addr->host, s3_addr->port);
    nc.cluster = node::PeerAddress{cluster_addr.host, cluster_addr.port};
    nc.engine.kind = b.engine;
    nc.engine.redis_url = b.redis_url;
    nc.engine.allow_weak_durability = b.allow_weak_durability;
    nc.raft.tick_ms = o.tuning.tick_ms;
    nc.replicas = o.tuning.replicas;
    nc.meta_replicas = o.tuning.meta_replicas;
    nc.down_after_ms = o.tuning.down_after_ms;
    nc.placement = o.tuning.placement == "on";
    nc.split_bytes = o.tuning.split_bytes;
    nc.split_writes_per_s = o.tuning.split_writes_per_s;
    nc.raft.snapshot_entries = o.tuning.snapshot_entries;
    nc.raft.trailing_entries = o.tuning.log_window;
    nc.service.gc_grace_ms = b.gc_grace_s * 1000;
    nc.service.gc_interval_ms = b.gc_interval_s * 1000;
    const uint64_t id = nc.id.value();
    auto node = node::Node::open(std::move(nc));
    if (!node.is_ok()) return fail("node: " + node.status().to_string());
    node::Node& n = **node;

    s3::ServerConfig sc;
    sc.listen_host = s3_addr->host;
    sc.listen_port = s3_addr->port;
    sc.region = b.region;
    sc.virtual_host_suffixes = b.virtual_host_suffixes;
    // Service calls of a cluster node mostly wait (on a quorum, a peer):
    // many threads, so that waiting ones never starve the rest.
    sc.threads = 64;
    sc.healthy = [&n] { return n.healthy(); };
    sc.admin = [&n](const std::string& method, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& query) {
        return n.admin(method, path, query);
    };
    s3::Server server(sc, n.service(), creds->provider);
    if (Status s = server.start(); !s.is_ok()) return fail("S3 endpoint: " + s.to_string());
    const std::string endpoint = fmt::format("http://{}:{}", s3_addr->host, server.port());
    if (o.gateway) {
        std::printf("ready: S3 endpoint %s (gateway of %zu members)\n", endpoint.c_str(),
                    seeds->size());
    } else {
        std::printf("ready: S3 endpoint %s (node %llu of %zu)\n", endpoint.c_str(),
                    static_cast<unsigned long long>(id), seeds->size());
    }
    std::fflush(stdout);
    log()->info("cleave server node {} ready on {}", id, endpoint);

    int sig = 0;
    sigwait(&signals, &sig);
    log()->info("signal {} received; shutting down", sig);
    // Fail what waits on the cluster first, so the S3 endpoint's calls in
    // flight return at once; then close the endpoint; then the node.
    n.shutdown_raft();
    server.stop();
    n.stop();
    ::close(*lock_fd);
    return 0;
}

}  // namespace cleave::cli
