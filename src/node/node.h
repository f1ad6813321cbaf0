#pragma once
// Node: one member of a Cleave cluster — everything `cleave server` runs
// besides the S3 endpoint:
//
//   S3 endpoint ──▶ ObjectService (service/local_object_service)
//                     │ propose / read barrier        │ chunks
//                     ▼                                ▼
//                  RaftReplica ──forward──▶ leader   PeerChunkReplicator / PeerChunkSource
//                     │                                │
//                  multiraft::Host (WAL, Raft groups)  │
//                     │ apply                          │
//                  ShardGroup ──▶ engine               ChunkStore
//                     └──────────── rpc::Transport (one connection per node pair) ─┘
//
// Raft groups, each with its own engine (so their keys and applied indexes
// never mix):
//   group 0  the meta shard: buckets, the node registry (refreshed by every
//            node's heartbeat) and the shard map;
//   group 1  the first data shard, and every shard split off it since
//            (split_groups.h): objects, uploads, directory markers, and a
//            mirror of each bucket.
// Placement: at bootstrap each group's voters are the first `meta_replicas`
// / `replicas` initial members in id order (every node computes the same
// sets); from then on the meta shard's leader moves replicas of every shard
// (placement_executor.cc): repair, balance, drain, and nodes that join
// later. A node that holds no replica of a shard is that shard's gateway:
// it reads through a RemoteEngine (each read answered by the least-busy
// replica, behind a ReadIndex barrier there) and proposes through a
// RemoteReplica (to the leader a replica names); NodeRouting routes every
// request by the shard map.
//
// Threading: the transport, Raft cores and node-to-node request coroutines
// run on the node's own io_context thread; blocking requests (forwarded
// proposals, chunk I/O, status) run on a small thread pool.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "blob/chunk_store.h"
#include "common/status.h"
#include "common/strong_id.h"
#include "multiraft/host.h"
#include "node/cluster_view.h"
#include "node/node.pb.h"
#include "node/node_routing.h"
#include "node/peer_chunks.h"
#include "node/raft_replica.h"
#include "node/remote.h"
#include "node/remote_engine.h"
#include "node/remote_replica.h"
#include "node/serving_path.h"
#include "node/shard_group.h"
#include "node/split_groups.h"
#include "rpc/transport.h"
#include "service/local_object_service.h"
#include "storage/engine.h"
#include "storage/open_engine.h"

namespace cleave::node {

struct PeerAddress {
    std::string host;
    uint16_t port = 0;
};

struct NodeConfig {
    NodeId id;
    std::string data_dir;
    std::string s3_address;                 // as reported by status
    PeerAddress cluster;                    // this node's node-to-node endpoint
    std::map<NodeId, PeerAddress> members;  // every initial member, this one included
    size_t replicas = 3;                    // voters of each data shard (fewer if fewer members)
    size_t meta_replicas = 3;               // voters of the meta shard
    int64_t down_after_ms = 30000;          // a node silent this long counts as down
    bool placement = true;                  // the meta leader carries out the driver's plan
    uint64_t split_bytes = 0;               // the meta leader splits data shards past this
    double split_writes_per_s = 0;          // ... or past this write rate (0: never by load)
    // A standalone gateway (`cleave gateway`): not a member, hosts nothing,
    // registers nothing; dials the members and serves S3 through them.
    bool gateway_only = false;
    std::string cluster_name = "cleave";
    std::string cluster_secret;
    storage::EngineOptions engine;
    multiraft::HostOptions raft;  // id and dir are filled in by the node
    service::LocalObjectServiceOptions service;
};

class Node {
  public:
    static Result<std::unique_ptr<Node>> open(NodeConfig config);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    service::ObjectService& service() { return *service_; }
    // Serving: the shard has a leader this node knows of.
    bool healthy() const;
    // Requests under /_cleave/admin/ (s3::ServerConfig::admin):
    //   GET  status                                  the cluster as this node sees it (JSON)
    //   POST failpoint?name=partition&value=on|off   cut this node off from its peers
    //   POST compact                                 snapshot and compact the log now
    //   POST drain?node=N[&value=on|off]            move every replica off node N (or stop)
    //   GET  shards                                  the shard map, leaders, sizes (JSON)
    //   GET  plan                                    the placement driver's next steps (JSON)
    Result<std::string> admin(const std::string& method, const std::string& path,
                              const std::vector<std::pair<std::string, std::string>>& query);
    // Stops the Raft groups: calls waiting on them fail (aborted) at once.
    void shutdown_raft();
    void stop();

  private:
    explicit Node(NodeConfig config);
    Status start();
    boost::asio::awaitable<Result<std::string>> on_request(uint64_t from, std::string body);
    // The node-to-node requests that block (all but snapshot pieces), on
    // the calling thread: on_request runs them on the pool, the placement
    // executor calls it directly for requests to this node itself.
    Result<std::string> serve_blocking(std::string_view body);
    Result<std::string> report();
    Result<std::string> status_json();
    // The replicas a shard's chunks go to (shard 0: every node a read may
    // ask for a chunk).
    ShardPeers shard_peers(uint64_t shard);
    // A data shard's replica on this node: the first shard's, or one in
    // split_groups_. `in_group`: not known to be removed (a removed replica
    // stays hosted, idle). `member`: serves the shard, i.e. in the group and
    // a voter the shard map lists (a learner catching up does not serve).
    struct DataReplica {
        GroupId id;
        storage::Engine* engine = nullptr;
        RaftReplica* replica = nullptr;
        bool in_group = false;
        bool member = false;
    };
    std::optional<DataReplica> data_replica_of(GroupId g);
    std::vector<DataReplica> data_replicas_here();
    // The shard map's replicas of data shard g as last read (empty: unknown).
    std::vector<uint64_t> map_replicas(GroupId g);
    // Every node id this node knows of: initial members, the registry, the
    // shard map.
    std::vector<uint64_t> known_nodes();
    // Nodes that joined after bootstrap: the transport learns their
    // addresses from the registry.
    void learn_peers(const std::vector<shard::NodeRecord>& nodes);
    // Split-off shards hosted here whose replica left the group (a move, a
    // drain): served remotely from then on.
    void check_split_membership();
    // A shard the map places here that this node never hosted (its parent
    // caught up past the Split by snapshot, or was removed before applying
    // it): hosted empty, caught up from its leader.
    void host_missing_shards();
    // Wakes the chunk repair thread (after a snapshot install).
    void want_chunk_repair();
    bool hosts_data() const { return hosts_data_.load(std::memory_order_acquire); }
    bool serves_data_locally() const { return hosts_data() && serving_ && serving_->local(); }
    RaftReplica* data_replica_here() const { return hosts_data() ? replica_.get() : nullptr; }
    // The meta shard's replica on this node: from the start (meta_), or
    // joined while running (it answers peers and may lead, but this node's
    // own service keeps reaching the meta shard remotely until a restart).
    RaftReplica* meta_replica_here() const {
        if (meta_replica_) return meta_replica_.get();
        return meta_joined_.load(std::memory_order_acquire) ? joined_meta_replica_.get() : nullptr;
    }
    Status join_meta_shard();
    // Makes this node a replica of the data shard: at start (bootstrap
    // placement, or a replica moved here before a restart), or while
    // running when the placement driver adds it as a learner.
    Status host_data_shard(const std::set<NodeId>& initial_voters, bool running);
    std::string hosted_marker(GroupId g) const;
    // The group's voters now: its configuration where this node holds a
    // replica, else the shard map as last read, else the bootstrap placement.
    std::vector<uint64_t> current_voters(GroupId g);
    // current_voters without this node: whom a gateway asks.
    std::vector<uint64_t> remote_replicas(GroupId g);
    // On the meta shard's leader: carries out the placement driver's plan,
    // one step at a time (placement_executor.cc).
    void placement_loop();
    Status placement_step();
    Status record_voters(const ClusterView& view, const GroupReport& gr);
    using PlacementCall = std::function<Result<std::string>(uint64_t node, std::string body,
                                                            std::chrono::milliseconds timeout)>;
    Status execute_step(GroupId g, uint64_t leader, const meta::PlannedStep& step,
                        const PlacementCall& call);
    // kChangeMembership on a shard's leader.
    Result<std::string> change_membership(std::string_view body);
    Status repair_chunks(size_t* fetched, size_t* failed);
    // Serves the data shard remotely once this node's replica was removed
    // from the group's configuration (drain, rebalance).
    void check_membership();
    // Reads the shard map (meta_view) and keeps the data shard's replicas
    // and every data shard's descriptor (routing_).
    Result<std::vector<shard::ShardDescriptor>> refresh_shard_map();
    // POST split?shard=N[&key=HEX]: Split proposed to shard N (at KEY, or
    // where a replica here halves it), then both descriptors recorded in
    // the meta shard, the new one first (routing follows the map).
    Result<std::string> split_shard(uint64_t shard, std::optional<std::string> key);
    // This node's own way to data shard `id` for the service, if any.
    std::optional<service::ShardRoute> local_route(uint64_t id);
    // A split's new shard whose leader is here but which the shard map does
    // not list (the node that proposed the split died before recording it):
    // record it from its own range record.
    void record_split_children();
    // A node without a meta replica: learns the meta shard's voters.
    void refresh_meta_voters();
    // The hosted groups all know a leader (a gateway's groups are not hosted).
    bool hosted_groups_led() const;
    // The meta shard's state: the local replica's engine, or a gateway's
    // remote view of a replica's.
    storage::Engine& meta_view() { return meta_serving_->engine(); }
    bool serves_meta_locally() const { return meta_ && meta_serving_ && meta_serving_->local(); }
    // Whether this node's replica of g is in the configuration of g's
    // leader (asked: a follower's view can be stale), or unknown (no
    // leader answered).
    enum class Membership { unknown, member, removed };
    Membership ask_membership(GroupId g);
    // Serves the meta shard remotely once its leader's configuration no
    // longer lists this node's replica (replaced while the node was down);
    // false while no leader answered.
    bool check_meta_membership();
    // The group's leader as this node knows it, or as a replica names it.
    uint64_t group_leader(GroupId g);
    // A node's report (its groups), if it answers over a connection that is
    // up; this node's own without the transport.
    std::optional<NodeReport> node_report(uint64_t node);
    // A node's report of group g (its role, leader, members), if it answers
    // and hosts g.
    std::optional<GroupReport> group_report(uint64_t node, GroupId g);
    // The voters of a group, by placement.
    const std::vector<uint64_t>& voters_of(GroupId g) const {
        return g == kMeta ? meta_voters_ : data_voters_;
    }
    void repair_chunks_loop();
    // Registers this node in the meta shard and keeps its record fresh;
    // proposes the initial shard map if the meta shard has none.
    void heartbeat_loop();
    Status heartbeat();
    // The size and write rate of each data shard led here, for the registry.
    void report_loads(shard::NodeRecord& n, int64_t now);
    // kSplitKey: the key that halves data shard `group` on this replica.
    Result<std::string> split_key_here(GroupId group);

    static constexpr GroupId kMeta{0};
    static constexpr GroupId kShard{1};

    NodeConfig config_;
    std::unique_ptr<storage::Engine> engine_;
    std::unique_ptr<storage::Engine> meta_engine_;
    std::unique_ptr<blob::ChunkStore> chunks_;
    boost::asio::io_context io_;
    std::unique_ptr<rpc::Transport> transport_;
    std::unique_ptr<Remote> remote_;
    std::unique_ptr<multiraft::Host> host_;
    std::vector<uint64_t> meta_voters_;
    std::vector<uint64_t> data_voters_;
    // A hosted group has its ShardGroup and RaftReplica; a group this node
    // is only the gateway of has a RemoteEngine and a RemoteReplica instead.
    std::unique_ptr<ShardGroup> shard_;
    std::unique_ptr<RaftReplica> replica_;
    std::unique_ptr<ShardGroup> meta_;
    std::unique_ptr<RaftReplica> meta_replica_;
    ReadSpreader spreader_;
    std::unique_ptr<RemoteEngine> data_view_;
    std::unique_ptr<RemoteReplica> data_remote_;
    std::unique_ptr<RemoteEngine> meta_view_;
    std::unique_ptr<RemoteReplica> meta_remote_;
    std::unique_ptr<ServingPath> serving_;
    std::unique_ptr<ServingPath> meta_serving_;
    // Shards split off the data shards hosted here, and the service's
    // routing over every data shard of the map.
    std::unique_ptr<SplitGroups> split_groups_;
    std::unique_ptr<NodeRouting> routing_;
    std::vector<shard::ShardDescriptor> data_map_cache_;  // guarded by placement_mu_
    std::atomic<uint64_t> reads_served_{0};
    std::atomic<int64_t> last_heartbeat_ok_ms_{0};
    // Set once a leader confirmed (or refuted) each hosted replica's
    // membership after start; healthy() waits for it.
    std::atomic<bool> membership_confirmed_{false};
    std::atomic<bool> hosts_data_{false};
    std::unique_ptr<ShardGroup> joined_meta_;  // see meta_replica_here()
    std::unique_ptr<RaftReplica> joined_meta_replica_;
    std::atomic<bool> meta_joined_{false};
    std::mutex placement_mu_;                    // hosting changes; the caches below
    std::vector<uint64_t> meta_replicas_cache_;  // the meta shard's voters, as a replica reported
    std::set<uint64_t> registry_cache_;          // registered nodes, as last read
    std::set<uint64_t> peers_set_;               // joined nodes whose address the transport has
    std::thread placement_thread_;
    // The previous load measurement of each data shard led here (heartbeat
    // thread only): when, at which applied index, and the bytes measured.
    struct LoadMark {
        int64_t ms = 0;
        uint64_t applied = 0;
        uint64_t bytes = 0;
    };
    std::map<uint64_t, LoadMark> load_marks_;
    // When the placement loop last split each shard: a shard's reported
    // size counts again only once measured after that (placement thread).
    std::map<uint64_t, int64_t> split_at_ms_;
    // Shards the map placed here without a replica, at the last check
    // (heartbeat thread; host_missing_shards).
    std::set<uint64_t> missing_shards_;
    std::unique_ptr<PeerChunkReplicator> replicator_;
    std::unique_ptr<PeerChunkSource> chunk_source_;
    std::unique_ptr<service::LocalObjectService> service_;
    // Serves peers' blocking requests: forwarded proposals wait for their
    // apply, reads for their barrier. As many as the S3 endpoint's pool (64),
    // so that the forwarded writes of every node's clients are in flight at
    // the leader together and share its WAL syncs.
    boost::asio::thread_pool pool_{64};
    std::thread io_thread_;
    bool stopped_ = false;

    // Chunk repair after a snapshot install (chunks referenced but absent).
    std::mutex repair_mu_;
    std::condition_variable repair_cv_;
    bool repair_wanted_ = false;  // guarded by repair_mu_
    bool repair_stop_ = false;    // guarded by repair_mu_
    std::thread repair_thread_;
    std::thread heartbeat_thread_;
    int64_t started_ms_ = 0;
};

}  // namespace cleave::node
