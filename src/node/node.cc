#include "node/node.h"

#include <filesystem>
#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/clock.h"
#include "common/hash.h"
#include "common/logging.h"
#include "meta/placement_driver.h"
#include "multiraft/wire.h"
#include "node/cluster_view.h"
#include "node/node.pb.h"
#include "shard/reads.h"
#include "shard/record_keys.h"

namespace cleave::node {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("node");
    return l;
}

Status not_hosted(GroupId g) {
    return Status(Errc::not_found, fmt::format("shard {} has no replica on this node", g.value()));
}

const std::string* find_param(const std::vector<std::pair<std::string, std::string>>& q,
                              std::string_view name) {
    for (const auto& [k, v] : q)
        if (k == name) return &v;
    return nullptr;
}

}  // namespace

Node::Node(NodeConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<Node>> Node::open(NodeConfig config) {
    std::unique_ptr<Node> n(new Node(std::move(config)));
    CLEAVE_RETURN_IF_ERROR(n->start());
    return n;
}

Status Node::start() {
    std::error_code ec;
    const std::string raft_dir = config_.data_dir + "/raft";
    std::filesystem::create_directories(raft_dir, ec);
    if (ec) return Status::io_error("cannot create " + raft_dir + ": " + ec.message());

    storage::EngineOptions eo = config_.engine;
    storage::EngineOptions meta_eo = config_.engine;
    eo.path = config_.data_dir + "/engine";
    meta_eo.path = config_.data_dir + "/meta";
    meta_eo.redis_key_prefix = config_.engine.redis_key_prefix + "meta:";
    CLEAVE_ASSIGN_OR_RETURN(engine_, storage::open_engine(eo));
    CLEAVE_ASSIGN_OR_RETURN(meta_engine_, storage::open_engine(meta_eo));
    started_ms_ = SystemClock::instance().now_unix_ms();
    CLEAVE_ASSIGN_OR_RETURN(chunks_, blob::ChunkStore::open(config_.data_dir + "/chunks"));

    rpc::TransportConfig tc;
    tc.node_id = config_.id.value();
    tc.cluster = config_.cluster_name;
    tc.secret = config_.cluster_secret;
    tc.listen_host = config_.cluster.host;
    tc.listen_port = config_.cluster.port;
    // Chunks of 4 MiB to several peers queue here; bounded, with backpressure.
    tc.max_queued_frames = 1024;
    tc.dial_all = config_.gateway_only;
    tc.initial_members = config_.members.size();
    transport_ = std::make_unique<rpc::Transport>(io_, tc);
    remote_ = std::make_unique<Remote>(io_, *transport_);

    multiraft::HostOptions ho = config_.raft;
    ho.id = config_.id;
    ho.dir = raft_dir;
    host_ = std::make_unique<multiraft::Host>(io_, *transport_, ho);
    CLEAVE_RETURN_IF_ERROR(host_->open());
    split_groups_ =
        std::make_unique<SplitGroups>(config_.data_dir, config_.engine, *host_, *remote_,
                                      config_.id, [this] { want_chunk_repair(); });
    split_groups_->set_left_check([this](uint64_t id) {
        auto r = data_replica_of(GroupId{id});
        return !r || !r->member;
    });
    // Placement: the first k members in id order (config_.members is sorted).
    for (const auto& [id, addr] : config_.members) {
        if (meta_voters_.size() < std::max<size_t>(config_.meta_replicas, 1))
            meta_voters_.push_back(id.value());
        if (data_voters_.size() < std::max<size_t>(config_.replicas, 1))
            data_voters_.push_back(id.value());
    }
    auto voter_set = [](const std::vector<uint64_t>& ids) {
        std::set<NodeId> out;
        for (uint64_t id : ids) out.insert(NodeId{id});
        return out;
    };
    auto is_voter = [&](const std::vector<uint64_t>& ids) {
        return std::find(ids.begin(), ids.end(), config_.id.value()) != ids.end();
    };
    std::error_code ec_meta;
    const bool meta_moved_here = std::filesystem::exists(hosted_marker(kMeta), ec_meta);
    if (is_voter(meta_voters_) || meta_moved_here) {
        CLEAVE_ASSIGN_OR_RETURN(meta_, ShardGroup::open(*meta_engine_));
        CLEAVE_RETURN_IF_ERROR(host_->add_group(
            kMeta, is_voter(meta_voters_) ? voter_set(meta_voters_) : std::set<NodeId>{}, *meta_));
        meta_replica_ = std::make_unique<RaftReplica>(*host_, *remote_, config_.id, kMeta);
    }
    // Every node can reach the meta shard remotely: a node without a replica
    // always does, a replica once it finds itself removed (serving_path.h).
    auto meta_replicas = [this] { return remote_replicas(kMeta); };
    meta_view_ = std::make_unique<RemoteEngine>(*remote_, spreader_, kMeta, meta_replicas);
    meta_remote_ =
        std::make_unique<RemoteReplica>(*remote_, kMeta, meta_replicas, config_.id.value(),
                                        [this](const std::string& command) -> Result<std::string> {
                                            // A replica that joined the meta shard while running
                                            // may lead it.
                                            RaftReplica* r = meta_replica_here();
                                            if (!r) return not_leader_with_hint(NodeId{0});
                                            return r->propose_here(command);
                                        });
    // The data shard: by placement at bootstrap, or because the placement
    // driver moved a replica here earlier (the marker file says so).
    std::error_code ec2;
    const bool moved_here = std::filesystem::exists(hosted_marker(kShard), ec2);
    if (is_voter(data_voters_) || moved_here) {
        CLEAVE_RETURN_IF_ERROR(
            host_data_shard(is_voter(data_voters_) ? voter_set(data_voters_) : std::set<NodeId>{},
                            /*running=*/false));
    }
    // Every node can reach the data shard remotely (a gateway serves through
    // this; a replica uses it only if it was moved here while running).
    data_view_ = std::make_unique<RemoteEngine>(*remote_, spreader_, kShard,
                                                [this] { return remote_replicas(kShard); });
    data_remote_ = std::make_unique<RemoteReplica>(
        *remote_, kShard, [this] { return current_voters(kShard); }, config_.id.value(),
        [this](const std::string& command) -> Result<std::string> {
            RaftReplica* r = data_replica_here();
            if (!r) return not_leader_with_hint(NodeId{0});
            return r->propose_here(command);
        });

    transport_->on_message([this](uint64_t from, std::string body) {
        const std::string_view b(body);
        if (b.size() > 1 && b.front() == multiraft::wire::kRaftBatch)
            host_->on_raft_batch(from, b.substr(1));
    });
    transport_->on_request(
        [this](uint64_t from, std::string body) { return on_request(from, std::move(body)); });
    CLEAVE_RETURN_IF_ERROR(transport_->start());
    for (const auto& [id, addr] : config_.members) {
        if (id != config_.id) transport_->set_peer(id.value(), addr.host, addr.port);
    }

    auto peers = [this](uint64_t shard) { return shard_peers(shard); };
    replicator_ = std::make_unique<PeerChunkReplicator>(*remote_, peers);
    // A gateway passes chunks it fetched on without keeping them; a member
    // keeps them (it may host any shard).
    chunk_source_ =
        std::make_unique<PeerChunkSource>(*chunks_, *remote_, peers, !config_.gateway_only);
    service::LocalObjectServiceOptions so = config_.service;
    if (!hosts_data()) so.chunk_refs = engine_.get();
    // The service reaches the data shard through its own replica while this
    // node is a member of the group, remotely otherwise (serving_path.h).
    if (hosts_data()) {
        serving_ =
            std::make_unique<ServingPath>(true, *engine_, *replica_, *data_view_, *data_remote_);
    } else {
        serving_ = std::make_unique<ServingPath>(false, *data_view_, *data_remote_, *data_view_,
                                                 *data_remote_);
    }
    if (meta_) {
        meta_serving_ = std::make_unique<ServingPath>(true, *meta_engine_, *meta_replica_,
                                                      *meta_view_, *meta_remote_);
    } else {
        meta_serving_ = std::make_unique<ServingPath>(false, *meta_view_, *meta_remote_,
                                                      *meta_view_, *meta_remote_);
    }
    // Shards split off before a restart are hosted again (before the host
    // starts: the parent's replay of a Split must find its child here).
    CLEAVE_RETURN_IF_ERROR(split_groups_->open_existing());
    NodeRoutingHooks hooks;
    hooks.cached_map = [this] {
        std::lock_guard lock(placement_mu_);
        return data_map_cache_;
    };
    hooks.refresh = [this] { (void)refresh_shard_map(); };
    hooks.local = [this](uint64_t id) { return local_route(id); };
    hooks.propose_here = [this](uint64_t id, const std::string& command) -> Result<std::string> {
        auto d = data_replica_of(GroupId{id});
        if (!d || !(d->in_group || id == kShard.value())) return not_leader_with_hint(NodeId{0});
        return d->replica->propose_here(command);
    };
    routing_ =
        std::make_unique<NodeRouting>(*remote_, spreader_, config_.id.value(), std::move(hooks));
    service_ = std::make_unique<service::LocalObjectService>(
        *routing_, *chunks_, SystemClock::instance(), so, chunk_source_.get(), replicator_.get(),
        service::MetaShard{&meta_serving_->replica(), &meta_serving_->engine()});

    host_->start();
    io_thread_ = std::thread([this] {
        auto guard = asio::make_work_guard(io_);
        io_.run();
    });
    repair_thread_ = std::thread([this] { repair_chunks_loop(); });
    heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
    if (config_.placement) placement_thread_ = std::thread([this] { placement_loop(); });
    log()->info("node {} up: cluster endpoint {}:{}, {} members; meta shard {}, data shard {}",
                config_.id.value(), config_.cluster.host, transport_->port(),
                config_.members.size(), meta_ ? "replica" : "gateway",
                hosts_data() ? "replica" : "gateway");
    return Status::ok();
}

Node::~Node() { stop(); }

void Node::stop() {
    if (stopped_) return;
    stopped_ = true;
    {
        std::lock_guard lock(repair_mu_);
        repair_stop_ = true;
    }
    repair_cv_.notify_all();
    if (repair_thread_.joinable()) repair_thread_.join();
    if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
    // The transport first: a placement step may wait on a peer for minutes
    // (a chunk repair before a promotion); its call fails now instead.
    if (transport_) {
        std::promise<void> stopped;
        asio::post(io_, [&] {
            transport_->stop();
            stopped.set_value();
        });
        if (io_thread_.joinable()) stopped.get_future().wait();
    }
    if (placement_thread_.joinable()) placement_thread_.join();
    service_.reset();
    if (host_) host_->stop();
    pool_.join();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    for (auto* e : {engine_.get(), meta_engine_.get()}) {
        if (!e) continue;
        Status s = e->sync();
        if (!s.is_ok()) log()->warn("final engine sync failed: {}", s.to_string());
    }
}

void Node::shutdown_raft() {
    if (host_) host_->stop();
}

bool Node::hosted_groups_led() const {
    if (!host_) return false;
    for (GroupId g : {kMeta, kShard}) {
        const bool hosted = g == kMeta ? serves_meta_locally() : serves_data_locally();
        if (hosted && host_->leader(g).value() == 0) return false;
    }
    return true;
}

bool Node::healthy() const {
    // A restarted replica may hear its old leader (messages queued for it
    // before a removal) and look led while it is no member any more.
    if (!membership_confirmed_.load(std::memory_order_acquire)) return false;
    if (!hosted_groups_led()) return false;
    if (serves_meta_locally() && serves_data_locally()) return true;
    // A gateway of some group serves once its heartbeat went through the
    // meta shard lately: the replicas it routes to are reachable and led.
    constexpr int64_t kFreshMs = 15000;
    const int64_t last = last_heartbeat_ok_ms_.load();
    return last != 0 && SystemClock::instance().now_unix_ms() - last < kFreshMs;
}

ShardPeers Node::shard_peers(uint64_t shard) {
    ShardPeers p;
    if (shard == kMeta.value()) {
        for (uint64_t id : known_nodes())
            if (id != config_.id.value()) p.others.push_back(id);
        p.voters = p.others.size() + 1;
        return p;
    }
    std::vector<uint64_t> voters = current_voters(GroupId{shard});
    if (voters.empty()) voters = current_voters(kShard);
    p.voters = voters.size();
    p.self_voter = false;
    for (uint64_t id : voters) {
        if (id == config_.id.value()) {
            p.self_voter = true;
        } else {
            p.others.push_back(id);
        }
    }
    return p;
}

std::vector<uint64_t> Node::current_voters(GroupId g) {
    // A replica removed from the group may never see its final
    // configuration: once it serves remotely, the shard map is the truth.
    bool hosted = false;
    if (g == kMeta) {
        hosted = serves_meta_locally();
    } else if (auto r = data_replica_of(g)) {
        hosted = r->member;
    }
    if (hosted) {
        std::vector<uint64_t> out;
        for (const auto& r : host_->status(g).replicas)
            if (r.voter) out.push_back(r.node.value());
        if (!out.empty()) return out;
    }
    if (g == kMeta) {
        std::lock_guard lock(placement_mu_);
        if (!meta_replicas_cache_.empty()) return meta_replicas_cache_;
    } else if (auto in_map = map_replicas(g); !in_map.empty()) {
        return in_map;
    }
    if (g == kMeta || g == kShard) return voters_of(g);
    return {};
}

std::vector<uint64_t> Node::map_replicas(GroupId g) {
    std::lock_guard lock(placement_mu_);
    for (const auto& d : data_map_cache_)
        if (d.id() == g.value()) return {d.replicas().begin(), d.replicas().end()};
    return {};
}

std::vector<uint64_t> Node::known_nodes() {
    std::set<uint64_t> out;
    for (const auto& [id, addr] : config_.members) out.insert(id.value());
    std::lock_guard lock(placement_mu_);
    out.insert(registry_cache_.begin(), registry_cache_.end());
    for (const auto& d : data_map_cache_) out.insert(d.replicas().begin(), d.replicas().end());
    return {out.begin(), out.end()};
}

void Node::learn_peers(const std::vector<shard::NodeRecord>& nodes) {
    std::vector<std::pair<uint64_t, PeerAddress>> fresh;
    {
        std::lock_guard lock(placement_mu_);
        registry_cache_.clear();
        for (const auto& n : nodes) {
            registry_cache_.insert(n.id());
            if (n.id() == config_.id.value() || config_.members.count(NodeId{n.id()}) ||
                peers_set_.count(n.id()))
                continue;
            const auto colon = n.cluster().rfind(':');
            if (colon == std::string::npos) continue;
            const int port = std::atoi(n.cluster().c_str() + colon + 1);
            if (port <= 0 || port > 65535) continue;
            peers_set_.insert(n.id());
            fresh.push_back(
                {n.id(), PeerAddress{n.cluster().substr(0, colon), static_cast<uint16_t>(port)}});
        }
    }
    for (auto& [id, addr] : fresh) {
        log()->info("node {} joined at {}:{}", id, addr.host, addr.port);
        asio::post(io_, [this, id, addr] { transport_->set_peer(id, addr.host, addr.port); });
    }
}

std::optional<Node::DataReplica> Node::data_replica_of(GroupId g) {
    if (g == kMeta) return std::nullopt;
    if (g == kShard) {
        if (!hosts_data()) return std::nullopt;
        const bool local = serving_ && serving_->local();
        return DataReplica{g, engine_.get(), replica_.get(), local, local};
    }
    HostedChild* c = split_groups_->find(g);
    if (!c) return std::nullopt;
    const bool in_group = !c->left.load();
    const std::vector<uint64_t> listed = map_replicas(g);
    const bool in_map = std::find(listed.begin(), listed.end(), config_.id.value()) != listed.end();
    return DataReplica{g, c->engine.get(), c->replica.get(), in_group, in_group && in_map};
}

std::vector<Node::DataReplica> Node::data_replicas_here() {
    std::vector<DataReplica> out;
    if (auto first = data_replica_of(kShard)) out.push_back(*first);
    for (GroupId g : split_groups_->ids())
        if (auto r = data_replica_of(g)) out.push_back(*r);
    return out;
}

void Node::want_chunk_repair() {
    {
        std::lock_guard lock(repair_mu_);
        repair_wanted_ = true;
    }
    repair_cv_.notify_all();
}

std::vector<uint64_t> Node::remote_replicas(GroupId g) {
    std::vector<uint64_t> out = current_voters(g);
    std::erase(out, config_.id.value());
    return out;
}

std::string Node::hosted_marker(GroupId g) const {
    return fmt::format("{}/raft/hosted-{}", config_.data_dir, g.value());
}

Status Node::join_meta_shard() {
    std::lock_guard lock(placement_mu_);
    if (meta_ || meta_joined_.load(std::memory_order_acquire)) return Status::ok();
    CLEAVE_ASSIGN_OR_RETURN(auto group, ShardGroup::open(*meta_engine_));
    // Remember before joining: a restart hosts it (and then serves it).
    std::ofstream(hosted_marker(kMeta)) << "placement moved a replica of the meta shard here\n";
    CLEAVE_RETURN_IF_ERROR(host_->add_group_running(kMeta, *group));
    joined_meta_ = std::move(group);
    joined_meta_replica_ = std::make_unique<RaftReplica>(*host_, *remote_, config_.id, kMeta);
    meta_joined_.store(true, std::memory_order_release);
    log()->info("joined the meta shard as a new replica");
    return Status::ok();
}

Status Node::host_data_shard(const std::set<NodeId>& initial_voters, bool running) {
    std::lock_guard lock(placement_mu_);
    if (hosts_data()) return Status::ok();
    CLEAVE_ASSIGN_OR_RETURN(auto group, ShardGroup::open(*engine_, split_groups_.get()));
    group->set_on_install([this] { want_chunk_repair(); });
    if (running) {
        // Remember before joining: a restart must host it again.
        const std::string marker = hosted_marker(kShard);
        std::ofstream(marker) << "placement moved a replica of this shard here\n";
        CLEAVE_RETURN_IF_ERROR(host_->add_group_running(kShard, *group));
        log()->info("joined shard {} as a new replica", kShard.value());
    } else {
        CLEAVE_RETURN_IF_ERROR(host_->add_group(kShard, initial_voters, *group));
    }
    shard_ = std::move(group);
    replica_ = std::make_unique<RaftReplica>(*host_, *remote_, config_.id, kShard);
    replica_->set_left_check([this] { return serving_ && !serving_->local(); });
    hosts_data_.store(true, std::memory_order_release);
    return Status::ok();
}

// ---- node-to-node requests ---------------------------------------------------

asio::awaitable<Result<std::string>> Node::on_request(uint64_t from, std::string body) {
    if (body.empty()) co_return Status::invalid_argument("empty request");
    const char kind = body[0];
    if (kind == multiraft::wire::kSnapshotPiece) {
        auto piece = host_->on_snapshot_piece(from, std::move(body));
        co_return co_await std::move(piece);
    }
    // Everything else blocks (proposals wait for apply, chunks for fsync):
    // run it on the pool and resume here with the answer.
    auto work = [this, b = std::move(body)]() { return serve_blocking(b); };
    auto on_pool = asio::co_spawn(
        pool_,
        [w = std::move(work)]() mutable -> asio::awaitable<std::optional<Result<std::string>>> {
            co_return std::optional<Result<std::string>>(w());
        },
        asio::use_awaitable);
    std::optional<Result<std::string>> r = co_await std::move(on_pool);
    co_return std::move(*r);
}

Result<std::string> Node::serve_blocking(std::string_view b) {
    if (b.empty()) return Status::invalid_argument("empty request");
    const char kind = b[0];
    switch (kind) {
        case multiraft::wire::kPropose: {
            CLEAVE_ASSIGN_OR_RETURN(auto req, parse_forward_request(b));
            RaftReplica* r = nullptr;
            if (req.first == kMeta) {
                r = meta_replica_here();
            } else if (auto d = data_replica_of(req.first);
                       d && (d->in_group || req.first == kShard)) {
                // Any replica still in the group takes a proposal (Raft orders
                // it), even one the map does not list yet: a just-promoted
                // voter may already lead.
                r = d->replica;
            }
            if (!r) return not_hosted(req.first);
            auto answer = r->propose_here(std::move(req.second));
            // Refused (certainly not applied) by a replica that has left its
            // group: the sender asks the next replica. Any other failure may
            // hide an applied command and goes back as it is.
            if (!answer.is_ok() && answer.status().code() == Errc::not_leader &&
                req.first != kMeta && r->has_left())
                return not_hosted(req.first);
            return answer;
        }
        case multiraft::wire::kKvRead: {
            CLEAVE_ASSIGN_OR_RETURN(KvRead req, parse_kv_read(b));
            const GroupId g{req.group()};
            RaftReplica* r = nullptr;
            storage::Engine* e = nullptr;
            if (g == kMeta) {
                r = meta_replica_here();
                e = meta_engine_.get();
            } else if (auto d = data_replica_of(g); d && (d->in_group || g == kShard)) {
                // A removed replica no longer hears its group: it must not
                // answer (the asker tries the next replica). One that does
                // not know yet is safe too: its read barrier waits for an
                // index its group no longer sends it, and times out.
                r = d->replica;
                e = d->engine;
            }
            if (!r) return not_hosted(g);
            if (Status s = r->read_barrier(); !s.is_ok()) {
                // Left the group while waiting: the asker tries the next one.
                if (g != kMeta && r->has_left()) return not_hosted(g);
                return s;
            }
            reads_served_.fetch_add(1, std::memory_order_relaxed);
            return serve_kv_read(*e, req);
        }
        case multiraft::wire::kChunkPut:
        case multiraft::wire::kChunkGet:
            return serve_chunk_request(*chunks_, b);
        case multiraft::wire::kNodeStatus:
            return report();
        case multiraft::wire::kHostGroup: {
            if (b.size() != 9) return Status::invalid_argument("bad host request");
            const GroupId g{shard::keys::parse_be64(b.substr(1))};
            if (g == kMeta) {
                CLEAVE_RETURN_IF_ERROR(join_meta_shard());
            } else if (g == kShard) {
                CLEAVE_RETURN_IF_ERROR(host_data_shard({}, /*running=*/true));
            } else {
                CLEAVE_RETURN_IF_ERROR(split_groups_->host_learner(g.value()));
            }
            return std::string();
        }
        case multiraft::wire::kChangeMembership:
            return change_membership(b);
        case multiraft::wire::kLeftGroup: {
            // Told by the placement executor once the removal committed: a
            // removed replica often never learns it from its group, and
            // reads waiting on it would only time out.
            if (b.size() != 9) return Status::invalid_argument("bad left-group request");
            const GroupId g{shard::keys::parse_be64(b.substr(1))};
            if (g == kShard) {
                if (serving_ && serving_->local()) {
                    serving_->go_remote();
                    log()->warn(
                        "this node's replica left shard 1 (placement): serving it as a "
                        "gateway");
                }
            } else if (HostedChild* c = split_groups_->find(g); c && !c->left.exchange(true)) {
                log()->warn("this node's replica left shard {} (placement)", g.value());
            }
            return std::string();
        }
        case multiraft::wire::kSplitKey: {
            if (b.size() != 9) return Status::invalid_argument("bad split key request");
            return split_key_here(GroupId{shard::keys::parse_be64(b.substr(1))});
        }
        case multiraft::wire::kRepairChunks: {
            if (b.size() == 9 && !data_replica_of(GroupId{shard::keys::parse_be64(b.substr(1))}))
                return not_hosted(GroupId{shard::keys::parse_be64(b.substr(1))});
            size_t fetched = 0, failed = 0;
            CLEAVE_RETURN_IF_ERROR(repair_chunks(&fetched, &failed));
            return fmt::format("{} fetched", fetched);
        }
        default:
            return Status::invalid_argument(fmt::format("unknown request kind {:?}", kind));
    }
}

// ---- status and admin --------------------------------------------------------

Result<std::string> Node::report() {
    NodeReport r;
    r.set_id(config_.id.value());
    r.set_s3(config_.s3_address);
    r.set_cluster(fmt::format("{}:{}", config_.cluster.host, config_.cluster.port));
    r.set_reads_served(reads_served_.load(std::memory_order_relaxed));
    r.set_wal_syncs(host_->wal_syncs());
    for (GroupId g : host_->groups()) {
        const multiraft::GroupStatus st = host_->status(g);
        auto* gr = r.add_groups();
        gr->set_group(g.value());
        gr->set_role(st.role);
        gr->set_term(st.term.value());
        gr->set_leader(st.leader.value());
        gr->set_commit(st.commit);
        gr->set_applied(st.applied);
        gr->set_last_index(st.last_index);
        gr->set_snapshot_index(st.snapshot_index);
        for (const auto& rep : st.replicas) {
            auto* m = gr->add_replicas();
            m->set_node(rep.node.value());
            m->set_match(rep.match);
            m->set_voter(rep.voter);
        }
    }
    return r.SerializeAsString();
}

Result<std::string> Node::status_json() {
    // Every member's own report, asked in turn (a down member answers
    // nothing): the initial members and those that joined since.
    std::map<uint64_t, std::string> members;
    for (const auto& [id, addr] : config_.members)
        members[id.value()] = fmt::format("{}:{}", addr.host, addr.port);
    if (auto nodes = shard::Reader(meta_view()).nodes(); nodes.is_ok())
        for (const auto& n : *nodes) members.emplace(n.id(), n.cluster());
    std::map<uint64_t, NodeReport> reports;
    for (const auto& [id, addr] : members) {
        Result<std::string> bytes = Status::unavailable("unreachable");
        if (id == config_.id.value()) {
            bytes = report();
        } else {
            bytes =
                remote_->call(id, std::string(1, multiraft::wire::kNodeStatus), milliseconds(2000));
        }
        NodeReport nr;
        if (bytes.is_ok() && nr.ParseFromString(*bytes)) reports[id] = std::move(nr);
    }
    std::string out = fmt::format("{{\"node_id\":{},\"nodes\":[", config_.id.value());
    bool first = true;
    for (const auto& [id, addr] : members) {
        auto it = reports.find(id);
        const bool up = it != reports.end();
        out += fmt::format(
            "{}{{\"id\":{},\"s3\":{},\"cluster\":{},\"up\":{},\"reads_served\":{},"
            "\"wal_syncs\":{}}}",
            first ? "" : ",", id, json_string(up ? it->second.s3() : ""), json_string(addr),
            up ? "true" : "false", up ? it->second.reads_served() : 0,
            up ? it->second.wal_syncs() : 0);
        first = false;
    }
    out += "],\"shards\":[";
    first = true;
    // The meta shard, the first data shard, and any shard split off it.
    std::set<uint64_t> groups = {kMeta.value(), kShard.value()};
    for (const auto& [id, nr] : reports)
        for (const auto& gr : nr.groups()) groups.insert(gr.group());
    for (uint64_t gid : groups) {
        const GroupId g{gid};
        // The leader: the highest term's claim among the reports.
        uint64_t leader = 0, term = 0, leader_commit = 0;
        for (const auto& [id, nr] : reports) {
            for (const auto& gr : nr.groups()) {
                if (gr.group() != g.value()) continue;
                if (gr.term() > term || (gr.term() == term && gr.leader() != 0)) {
                    term = gr.term();
                    leader = gr.leader();
                }
            }
        }
        for (const auto& [id, nr] : reports)
            for (const auto& gr : nr.groups())
                if (gr.group() == g.value() && id == leader) leader_commit = gr.commit();
        out += fmt::format("{}{{\"id\":{},\"leader\":{},\"term\":{},\"replicas\":[",
                           first ? "" : ",", g.value(), leader, term);
        first = false;
        // Members: the group's configuration as its leader reports it (moves
        // change it), else the bootstrap placement.
        std::vector<uint64_t> members;
        std::map<uint64_t, bool> voter;  // as the leader's configuration says
        if (auto lr = reports.find(leader); lr != reports.end())
            for (const auto& gr : lr->second.groups())
                if (gr.group() == g.value())
                    for (const auto& m : gr.replicas()) {
                        members.push_back(m.node());
                        voter[m.node()] = m.voter();
                    }
        if (members.empty()) members = voters_of(g);
        std::sort(members.begin(), members.end());
        bool first_rep = true;
        for (uint64_t member : members) {
            const NodeId id{member};
            auto it = reports.find(id.value());
            const GroupReport* gr = nullptr;
            if (it != reports.end())
                for (const auto& x : it->second.groups())
                    if (x.group() == g.value()) gr = &x;
            out += first_rep ? "" : ",";
            first_rep = false;
            const char* is_voter = voter.count(member) && !voter[member] ? "false" : "true";
            if (!gr) {
                out +=
                    fmt::format("{{\"node\":{},\"voter\":{},\"up\":false}}", id.value(), is_voter);
                continue;
            }
            const uint64_t lag = leader_commit > gr->applied() ? leader_commit - gr->applied() : 0;
            out += fmt::format(
                "{{\"node\":{},\"voter\":{},\"role\":{},\"term\":{},\"applied\":{},"
                "\"commit\":{},\"last_index\":{},\"snapshot_index\":{},\"lag\":{},"
                "\"up\":true}}",
                id.value(), is_voter, json_string(gr->role()), gr->term(), gr->applied(),
                gr->commit(), gr->last_index(), gr->snapshot_index(), lag);
        }
        out += "]}";
    }
    out += "],";
    // The meta shard as this node has applied it (no read barrier: a status
    // view may trail the leader by a moment).
    shard::Reader meta(meta_view());
    const int64_t now = SystemClock::instance().now_unix_ms();
    out += "\"registry\":[";
    if (auto nodes = meta.nodes(); nodes.is_ok()) {
        for (size_t i = 0; i < nodes->size(); ++i) {
            const auto& n = (*nodes)[i];
            out += fmt::format(
                "{}{{\"id\":{},\"s3\":{},\"cluster\":{},\"last_seen_ms\":{},\"age_ms\":{},"
                "\"capacity_bytes\":{},\"used_bytes\":{},\"draining\":{}}}",
                i ? "," : "", n.id(), json_string(n.s3()), json_string(n.cluster()),
                n.last_seen_ms(), now - n.last_seen_ms(), n.capacity_bytes(), n.used_bytes(),
                n.draining() ? "true" : "false");
        }
    }
    out += "],\"shard_map\":[";
    if (auto map = meta.shard_map(); map.is_ok()) {
        for (size_t i = 0; i < map->size(); ++i) {
            const auto& d = (*map)[i];
            std::string replicas;
            for (int r = 0; r < d.replicas_size(); ++r)
                replicas += fmt::format("{}{}", r ? "," : "", d.replicas(r));
            out += fmt::format(
                "{}{{\"id\":{},\"start\":{},\"end\":{},\"epoch\":{},\"replicas\":[{}]}}",
                i ? "," : "", d.id(), json_string(to_hex(d.start())), json_string(to_hex(d.end())),
                d.epoch(), replicas);
        }
    }
    out += "]}\n";
    return out;
}

Result<std::string> Node::admin(const std::string& method, const std::string& path,
                                const std::vector<std::pair<std::string, std::string>>& query) {
    if (path == "status" && (method == "GET" || method == "HEAD")) return status_json();
    if (path == "failpoint" && method == "POST") {
        const std::string* name = find_param(query, "name");
        const std::string* value = find_param(query, "value");
        if (!name || *name != "partition")
            return Status::invalid_argument("failpoint: name must be 'partition'");
        if (!value || (*value != "on" && *value != "off"))
            return Status::invalid_argument("failpoint: value must be 'on' or 'off'");
        const bool on = *value == "on";
        std::promise<void> done;
        asio::post(io_, [&] {
            transport_->set_partitioned(on);
            done.set_value();
        });
        done.get_future().wait();
        log()->warn("failpoint partition {}", on ? "on: cut off from every peer" : "off");
        return fmt::format("{{\"failpoint\":\"partition\",\"value\":\"{}\"}}\n", *value);
    }
    if ((path == "shards" || path == "plan") && (method == "GET" || method == "HEAD")) {
        // The meta shard as a replica here applied it, or as a replica
        // answers a gateway (no barrier here: an admin view may trail).
        CLEAVE_ASSIGN_OR_RETURN(
            ClusterView view, read_cluster_view(meta_view(), SystemClock::instance().now_unix_ms(),
                                                config_.down_after_ms));
        if (path == "shards") {
            return shards_json(view, [this](uint64_t shard) {
                const GroupId g{shard};
                if (g == kShard && shard_) return host_->leader(g).value();
                return group_leader(g);
            });
        }
        meta::DriverOptions o;
        o.replication = config_.replicas;
        return plan_json(view, meta::plan(driver_state(view), o));
    }
    if (path == "drain" && method == "POST") {
        const std::string* node = find_param(query, "node");
        const std::string* value = find_param(query, "value");
        uint64_t id = 0;
        if (!node || node->empty() || node->size() > 19 ||
            node->find_first_not_of("0123456789") != std::string::npos ||
            (id = std::stoull(*node)) == 0)
            return Status::invalid_argument("drain: node must be a node id (1, 2, ...)");
        if (value && *value != "on" && *value != "off")
            return Status::invalid_argument("drain: value must be 'on' or 'off'");
        const bool on = !value || *value == "on";
        shard::Command c;
        c.set_time_ms(SystemClock::instance().now_unix_ms());
        c.mutable_set_node_draining()->set_node(id);
        c.mutable_set_node_draining()->set_draining(on);
        shard::Replica& meta_replica = meta_serving_->replica();
        CLEAVE_ASSIGN_OR_RETURN(auto outcome, meta_replica.propose(std::move(c)));
        CLEAVE_RETURN_IF_ERROR(outcome.status);
        log()->warn("node {} {}", id,
                    on ? "draining: its replicas move elsewhere" : "no longer draining");
        return fmt::format("{{\"node\":{},\"draining\":{}}}\n", id, on ? "true" : "false");
    }
    if (path == "split" && method == "POST") {
        const std::string* id = find_param(query, "shard");
        char* end = nullptr;
        const uint64_t shard = id ? std::strtoull(id->c_str(), &end, 10) : 0;
        if (!id || id->empty() || *end != '\0' || shard == 0)
            return Status::invalid_argument("split needs shard=N (a data shard id)");
        std::optional<std::string> key;
        if (const std::string* hex = find_param(query, "key"); hex && !hex->empty()) {
            std::string raw;
            if (!from_hex(*hex, &raw))
                return Status::invalid_argument("key must be a placement key in hex");
            key = std::move(raw);
        }
        return split_shard(shard, std::move(key));
    }
    if (path == "compact" && method == "POST") {
        if (!hosts_data()) return not_hosted(kShard);
        CLEAVE_RETURN_IF_ERROR(host_->compact(kShard));
        const auto st = host_->status(kShard);
        return fmt::format("{{\"shard\":{},\"snapshot_index\":{}}}\n", kShard.value(),
                           st.snapshot_index);
    }
    return Status::not_found(fmt::format("no admin operation {} {}", method, path));
}

uint64_t Node::group_leader(GroupId g) {
    if (g == kMeta ? serves_meta_locally() : data_replica_of(g) && data_replica_of(g)->member)
        return host_->leader(g).value();
    // A gateway: the first replica that answers names the leader it knows.
    for (uint64_t voter : current_voters(g)) {
        auto gr = group_report(voter, g);
        if (gr && gr->leader() != 0) return gr->leader();
    }
    return 0;
}

std::optional<NodeReport> Node::node_report(uint64_t node) {
    // This node's own report without the transport. A peer without a
    // connection (dead, or not dialed yet) is not waited for: the heartbeat
    // and placement threads ask this, and must not fall silent for longer
    // than the liveness timeout because some peer is down.
    bool sent = false;
    auto bytes =
        node == config_.id.value()
            ? report()
            : remote_->call_if_connected(node, std::string(1, multiraft::wire::kNodeStatus),
                                         milliseconds(2000), &sent);
    NodeReport nr;
    if (!bytes.is_ok() || !nr.ParseFromString(*bytes)) return std::nullopt;
    return nr;
}

std::optional<GroupReport> Node::group_report(uint64_t node, GroupId g) {
    std::optional<NodeReport> nr = node_report(node);
    if (!nr) return std::nullopt;
    for (auto& gr : *nr->mutable_groups())
        if (gr.group() == g.value()) return std::move(gr);
    return std::nullopt;
}

Result<std::vector<shard::ShardDescriptor>> Node::refresh_shard_map() {
    CLEAVE_ASSIGN_OR_RETURN(auto map, shard::Reader(meta_view()).shard_map());
    {
        std::lock_guard lock(placement_mu_);
        data_map_cache_.clear();
        for (const auto& d : map)
            if (d.id() != kMeta.value()) data_map_cache_.push_back(d);
    }
    if (auto nodes = shard::Reader(meta_view()).nodes(); nodes.is_ok()) learn_peers(*nodes);
    return map;
}

void Node::refresh_meta_voters() {
    // The meta shard's voters move too (placement repairs them), and the
    // shard map does not list them: a node without a replica asks one.
    for (uint64_t voter : current_voters(kMeta)) {
        auto gr = group_report(voter, kMeta);
        if (!gr) continue;
        std::vector<uint64_t> voters;
        for (const auto& m : gr->replicas())
            if (m.voter()) voters.push_back(m.node());
        if (voters.empty()) continue;
        std::lock_guard lock(placement_mu_);
        meta_replicas_cache_ = std::move(voters);
        return;
    }
}

Node::Membership Node::ask_membership(GroupId g) {
    // The group's leader knows its committed configuration; a follower's
    // view may be as stale as ours (two replicas removed while down would
    // vouch for each other), so only a node that reports itself leading
    // decides. Followers name the leader to ask next.
    const uint64_t self = config_.id.value();
    if (host_->leader(g).value() == self) return Membership::member;
    std::vector<uint64_t> ask;
    for (uint64_t v : current_voters(g))
        if (v != self) ask.push_back(v);
    if (ask.empty()) return Membership::member;  // the only voter
    std::set<uint64_t> asked;
    for (size_t i = 0; i < ask.size() && asked.size() < 8; ++i) {
        if (!asked.insert(ask[i]).second) continue;
        auto gr = group_report(ask[i], g);
        if (!gr || gr->leader() == 0) continue;
        if (gr->leader() != ask[i]) {
            if (gr->leader() != self) ask.push_back(gr->leader());
            continue;
        }
        for (const auto& m : gr->replicas())
            if (m.node() == self) return Membership::member;
        return Membership::removed;
    }
    return Membership::unknown;
}

bool Node::check_meta_membership() {
    // A meta replica removed while its node was down never hears of it, and
    // may even hear stale heartbeats of its old leader, queued for it before
    // its removal: the leader's configuration decides.
    const Membership m = ask_membership(kMeta);
    if (m == Membership::removed) {
        meta_serving_->go_remote();
        log()->warn("this node's replica left the meta shard: serving it as a gateway");
    }
    return m != Membership::unknown;
}

void Node::check_membership() {
    if (!serving_ || !serving_->local() || !hosts_data()) return;
    // A removed replica often never learns the final configuration (the
    // leader stops replicating to it once it is out), so the shard map, to
    // which the placement executor writes every new voter set, decides too.
    bool in_map = true;
    if (const auto listed = map_replicas(kShard); !listed.empty())
        in_map = std::find(listed.begin(), listed.end(), config_.id.value()) != listed.end();
    bool in_config = true;
    const multiraft::GroupStatus st = host_->status(kShard);
    if (!st.replicas.empty()) {
        in_config = std::any_of(st.replicas.begin(), st.replicas.end(),
                                [&](const auto& r) { return r.node == config_.id; });
    }
    if (in_map && in_config) return;
    serving_->go_remote();
    log()->warn("this node's replica left shard {} ({}): serving it as a gateway", kShard.value(),
                in_config ? "shard map" : "configuration");
}

// ---- registry ----------------------------------------------------------------

Status Node::heartbeat() {
    shard::Command c;
    c.set_time_ms(SystemClock::instance().now_unix_ms());
    auto* n = c.mutable_register_node()->mutable_node();
    n->set_id(config_.id.value());
    n->set_s3(config_.s3_address);
    n->set_cluster(fmt::format("{}:{}", config_.cluster.host, config_.cluster.port));
    n->set_started_ms(started_ms_);
    n->set_last_seen_ms(c.time_ms());
    std::error_code ec;
    const auto space = std::filesystem::space(config_.data_dir, ec);
    if (!ec) {
        n->set_capacity_bytes(space.capacity);
        n->set_used_bytes(space.capacity - space.available);
    }
    report_loads(*n, c.time_ms());
    shard::Replica& meta_replica = meta_serving_->replica();
    // A standalone gateway is no member: nothing to register, it only
    // follows the shard map (and its health is reaching it).
    if (!config_.gateway_only) {
        CLEAVE_ASSIGN_OR_RETURN(auto registered, meta_replica.propose(std::move(c)));
        CLEAVE_RETURN_IF_ERROR(registered.status);
        last_heartbeat_ok_ms_.store(SystemClock::instance().now_unix_ms());
    }
    auto map = refresh_shard_map();
    if (config_.gateway_only) {
        CLEAVE_RETURN_IF_ERROR(map.status());
        last_heartbeat_ok_ms_.store(SystemClock::instance().now_unix_ms());
    }
    if (map.is_ok() && !map->empty()) return Status::ok();
    if (config_.gateway_only) return Status::ok();
    // The initial shard map: one data shard over the whole keyspace on the
    // initial members. Every node proposes it until it sees it; the first
    // one wins.
    shard::Command m;
    m.set_time_ms(SystemClock::instance().now_unix_ms());
    auto* put = m.mutable_put_shard();
    put->set_only_if_absent(true);
    auto* d = put->mutable_shard();
    d->set_id(kShard.value());
    d->set_epoch(1);
    for (uint64_t id : data_voters_) d->add_replicas(id);
    CLEAVE_ASSIGN_OR_RETURN(auto mapped, meta_replica.propose(std::move(m)));
    if (!mapped.status.is_ok() && mapped.status.code() != Errc::already_exists)
        return mapped.status;
    return Status::ok();
}

void Node::heartbeat_loop() {
    // Several heartbeats per liveness timeout, so a live node never looks
    // down between two of them; at most every 5 s.
    const auto kPeriod =
        std::chrono::milliseconds(std::clamp<int64_t>(config_.down_after_ms / 3, 200, 5000));
    uint64_t rounds = 0;
    while (true) {
        {
            std::unique_lock lock(repair_mu_);
            // Also the stop signal: repair_stop_ wakes this wait.
            if (repair_cv_.wait_for(lock, std::chrono::milliseconds(200),
                                    [&] { return repair_stop_; }))
                return;
        }
        // Independent of this node's own groups: a replica removed from the
        // data shard has no leader there any more, and must still find out.
        // Asking the leaders costs a round trip each: every time until the
        // answers are in, then every second.
        const bool confirmed = membership_confirmed_.load(std::memory_order_acquire);
        const bool ask = !confirmed || ++rounds % 5 == 0;
        bool decided = true;
        if (serves_meta_locally() && ask) decided = check_meta_membership();
        if (!serves_meta_locally()) refresh_meta_voters();
        if (!split_groups_->ids().empty()) {
            record_split_children();
            check_split_membership();
        }
        if (!config_.gateway_only) host_missing_shards();
        if (serves_data_locally()) {
            auto map = refresh_shard_map();
            const Membership m = ask ? ask_membership(kShard) : Membership::member;
            if (m == Membership::removed) {
                serving_->go_remote();
                log()->warn(
                    "this node's replica left shard {} (its leader's configuration): "
                    "serving it as a gateway",
                    kShard.value());
            } else if (map.is_ok()) {
                check_membership();
            }
            decided = decided && m != Membership::unknown;
        }
        // Serving starts once this node knows which of its replicas are
        // still members (healthy()).
        if (decided) membership_confirmed_.store(true, std::memory_order_release);
        if (!hosted_groups_led()) continue;
        Status s = heartbeat();
        if (!s.is_ok()) {
            log()->debug("heartbeat not recorded: {}", s.to_string());
            std::unique_lock lock(repair_mu_);
            if (repair_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return repair_stop_; }))
                return;
            continue;
        }
        std::unique_lock lock(repair_mu_);
        if (repair_cv_.wait_for(lock, kPeriod, [&] { return repair_stop_; })) return;
    }
}

// ---- chunk repair ----------------------------------------------------------

void Node::repair_chunks_loop() {
    while (true) {
        {
            std::unique_lock lock(repair_mu_);
            repair_cv_.wait(lock, [&] { return repair_wanted_ || repair_stop_; });
            if (repair_stop_) return;
            repair_wanted_ = false;
        }
        size_t fetched = 0, failed = 0;
        Status s = repair_chunks(&fetched, &failed);
        if (!s.is_ok()) log()->warn("chunk repair: {}", s.to_string());
    }
}

Status Node::repair_chunks(size_t* fetched, size_t* failed) {
    // A snapshot (or a log replayed from far behind) brought metadata only:
    // fetch the chunks it references that this node lacks, so reads do not
    // depend on a peer later and this copy counts for durability.
    std::vector<std::string> ids;
    for (const DataReplica& r : data_replicas_here()) {
        if (!r.in_group && r.id != kShard) continue;
        auto snap = r.engine->snapshot();
        CLEAVE_RETURN_IF_ERROR(
            shard::Reader(*r.engine, snap.get()).for_each_chunk_ref([&](const std::string& id) {
                ids.push_back(id);
            }));
    }
    for (const auto& raw : ids) {
        {
            std::lock_guard lock(repair_mu_);
            if (repair_stop_) return Status(Errc::aborted, "node stopping");
        }
        const blob::ChunkId id = blob::chunk_id_from_bytes(raw);
        auto here = chunks_->contains(id);
        if (here.is_ok() && *here) continue;
        Status got = chunk_source_->ensure_local(id);
        got.is_ok() ? ++*fetched : ++*failed;
    }
    log()->info("chunk repair: {} referenced, {} fetched, {} failed", ids.size(), *fetched,
                *failed);
    if (*failed) return Status::unavailable(fmt::format("{} chunks could not be fetched", *failed));
    return Status::ok();
}

}  // namespace cleave::node
