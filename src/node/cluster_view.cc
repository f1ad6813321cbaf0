#include "node/cluster_view.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/hash.h"
#include "shard/reads.h"

namespace cleave::node {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
            out.push_back(c);
        }
    }
    return out + "\"";
}

Result<ClusterView> read_cluster_view(storage::Engine& meta_engine, int64_t now_ms,
                                      int64_t down_after_ms) {
    ClusterView v;
    shard::Reader meta(meta_engine);
    CLEAVE_ASSIGN_OR_RETURN(v.nodes, meta.nodes());
    CLEAVE_ASSIGN_OR_RETURN(v.shards, meta.shard_map());
    for (const auto& n : v.nodes) {
        v.live[n.id()] = now_ms - n.last_seen_ms() < down_after_ms;
        // A shard's newest report wins (leadership moves between nodes).
        for (const auto& load : n.shards()) {
            auto it = v.loads.find(load.shard());
            if (it == v.loads.end() || it->second.measured_ms() < load.measured_ms())
                v.loads[load.shard()] = load;
        }
    }
    return v;
}

meta::ClusterState driver_state(const ClusterView& view) {
    meta::ClusterState s;
    for (const auto& n : view.nodes) {
        meta::NodeState ns;
        ns.id = n.id();
        ns.live = view.live.at(n.id());
        ns.draining = n.draining();
        ns.capacity_bytes = n.capacity_bytes();
        ns.used_bytes = n.used_bytes();
        s.nodes.push_back(ns);
    }
    // A replica's node that never registered yet (the first seconds of a
    // cluster) counts as live: it is not known to be down.
    for (const auto& d : view.shards) {
        for (uint64_t r : d.replicas()) {
            if (view.live.count(r)) continue;
            meta::NodeState ns;
            ns.id = r;
            if (std::none_of(s.nodes.begin(), s.nodes.end(),
                             [&](const meta::NodeState& n) { return n.id == r; }))
                s.nodes.push_back(ns);
        }
    }
    for (const auto& d : view.shards) {
        meta::ShardState sh;
        sh.id = d.id();
        sh.start = d.start();
        sh.end = d.end();
        sh.epoch = d.epoch();
        for (uint64_t r : d.replicas()) sh.replicas.push_back({r, true, true});
        if (auto it = view.loads.find(d.id()); it != view.loads.end()) {
            sh.size_bytes = it->second.size_bytes();
            sh.requests_per_s = it->second.writes_per_s();
        }
        s.next_shard_id = std::max(s.next_shard_id, d.id() + 1);
        s.shards.push_back(std::move(sh));
    }
    return s;
}

std::string shards_json(const ClusterView& view,
                        const std::function<uint64_t(uint64_t shard)>& leader_of) {
    std::string out = "{\"shards\":[";
    for (size_t i = 0; i < view.shards.size(); ++i) {
        const auto& d = view.shards[i];
        std::string replicas;
        for (int r = 0; r < d.replicas_size(); ++r)
            replicas += fmt::format("{}{}", r ? "," : "", d.replicas(r));
        uint64_t size = 0;
        double writes = 0;
        if (auto it = view.loads.find(d.id()); it != view.loads.end()) {
            size = it->second.size_bytes();
            writes = it->second.writes_per_s();
        }
        out += fmt::format(
            "{}{{\"id\":{},\"start\":{},\"end\":{},\"epoch\":{},\"replicas\":[{}],"
            "\"leader\":{},\"size\":{},\"size_bytes\":{},\"writes_per_s\":{:.1f}}}",
            i ? "," : "", d.id(), json_string(to_hex(d.start())), json_string(to_hex(d.end())),
            d.epoch(), replicas, leader_of(d.id()), size, size, writes);
    }
    return out + "]}\n";
}

std::string plan_json(const ClusterView& view, const meta::Plan& plan) {
    std::string out = "{\"live\":[";
    bool first = true;
    for (const auto& [id, up] : view.live) {
        if (!up) continue;
        out += fmt::format("{}{}", first ? "" : ",", id);
        first = false;
    }
    out += "],\"down\":[";
    first = true;
    for (const auto& [id, up] : view.live) {
        if (up) continue;
        out += fmt::format("{}{}", first ? "" : ",", id);
        first = false;
    }
    out += "],\"draining\":[";
    first = true;
    for (const auto& n : view.nodes) {
        if (!n.draining()) continue;
        out += fmt::format("{}{}", first ? "" : ",", n.id());
        first = false;
    }
    out += "],\"steps\":[";
    for (size_t i = 0; i < plan.size(); ++i) {
        const auto& ps = plan[i];
        const char* kind = std::visit(
            [](const auto& st) -> const char* {
                using T = std::decay_t<decltype(st)>;
                if constexpr (std::is_same_v<T, meta::SplitStep>) return "split";
                if constexpr (std::is_same_v<T, meta::AddLearner>) return "add_learner";
                if constexpr (std::is_same_v<T, meta::Promote>) return "promote";
                return "remove_replica";
            },
            ps.step);
        const uint64_t shard = std::visit([](const auto& st) { return st.shard; }, ps.step);
        const uint64_t node = std::visit(
            [](const auto& st) -> uint64_t {
                if constexpr (requires { st.node; }) return st.node;
                return 0;
            },
            ps.step);
        out += fmt::format("{}{{\"kind\":\"{}\",\"shard\":{},\"node\":{},\"what\":{},\"why\":{}}}",
                           i ? "," : "", kind, shard, node, json_string(meta::describe(ps.step)),
                           json_string(ps.why));
    }
    return out + "]}\n";
}

}  // namespace cleave::node
