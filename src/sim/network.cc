#include "sim/network.h"

namespace cleave::sim {

void Network::send(raft::Message m, uint64_t now) {
    if (blocked(m.from, m.to)) {
        if (drop_log_) drop_log_->push_back(std::move(m));
        return;
    }
    if (faults_.drop_per_mille && rng_.chance(faults_.drop_per_mille, 1000)) return;
    auto delay = [&] {
        return faults_.max_delay_ticks ? rng_.uniform(faults_.max_delay_ticks + 1) : 0;
    };
    if (faults_.duplicate_per_mille && rng_.chance(faults_.duplicate_per_mille, 1000)) {
        queue_.push_back({now + delay(), m});
    }
    queue_.push_back({now + delay(), std::move(m)});
}

std::optional<raft::Message> Network::take(uint64_t now, bool reorder,
                                           const std::set<NodeId>* only_to) {
    while (true) {
        std::vector<size_t> due;
        for (size_t i = 0; i < queue_.size(); ++i) {
            if (only_to && !only_to->count(queue_[i].message.to)) continue;
            if (queue_[i].deliver_at <= now) {
                due.push_back(i);
                if (!reorder) break;
            }
        }
        if (due.empty()) return std::nullopt;
        const size_t pick = reorder ? due[rng_.uniform(due.size())] : due.front();
        raft::Message m = std::move(queue_[pick].message);
        queue_.erase(queue_.begin() + static_cast<ptrdiff_t>(pick));
        if (blocked(m.from, m.to)) {
            if (drop_log_) drop_log_->push_back(std::move(m));
            continue;
        }
        return m;
    }
}

void Network::drop_to(NodeId to) {
    std::erase_if(queue_, [&](const InFlight& f) { return f.message.to == to; });
}

}  // namespace cleave::sim
