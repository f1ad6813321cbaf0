#include "node/node_routing.h"

#include <algorithm>

namespace cleave::node {

NodeRouting::NodeRouting(Remote& remote, ReadSpreader& spreader, uint64_t self,
                         NodeRoutingHooks hooks)
    : remote_(remote), spreader_(spreader), self_(self), hooks_(std::move(hooks)) {}

std::vector<uint64_t> NodeRouting::replicas_of(uint64_t id) {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> out = replicas_[id];
    std::erase(out, self_);
    return out;
}

NodeRouting::RemoteShard& NodeRouting::remote_shard(uint64_t id) {
    std::lock_guard lock(mu_);
    auto& slot = remote_shards_[id];
    if (!slot) {
        slot = std::make_unique<RemoteShard>();
        auto replicas = [this, id] { return replicas_of(id); };
        slot->engine = std::make_unique<RemoteEngine>(remote_, spreader_, GroupId{id}, replicas);
        slot->replica = std::make_unique<RemoteReplica>(
            remote_, GroupId{id}, replicas, self_,
            [this, id](const std::string& command) { return hooks_.propose_here(id, command); });
    }
    return *slot;
}

std::vector<service::ShardRoute> NodeRouting::table() {
    std::vector<shard::ShardDescriptor> map = hooks_.cached_map();
    std::vector<service::ShardRoute> out;
    if (map.empty()) {
        // Before the first read of the map: the first data shard owns all.
        if (auto first = hooks_.local(1)) out.push_back(*first);
        return out;
    }
    {
        std::lock_guard lock(mu_);
        for (const auto& d : map)
            replicas_[d.id()].assign(d.replicas().begin(), d.replicas().end());
    }
    for (const auto& d : map) {
        service::ShardRoute r;
        if (auto local = hooks_.local(d.id())) {
            r = *local;
        } else {
            RemoteShard& s = remote_shard(d.id());
            r.engine = s.engine.get();
            r.replica = s.replica.get();
            r.checks_owner = true;
        }
        r.id = d.id();
        r.start = d.start();
        r.end = d.end();
        out.push_back(r);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    // Ends from the next start: while a split is being recorded the parent's
    // descriptor may still reach past its child's start.
    for (size_t i = 0; i < out.size(); ++i) out[i].end = i + 1 < out.size() ? out[i + 1].start : "";
    return out;
}

}  // namespace cleave::node
