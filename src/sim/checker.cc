#include "sim/checker.h"

#include <fmt/format.h>

#include "sim/format.h"

namespace cleave::sim {

void Checker::fail(std::string what) {
    if (failure_.empty()) failure_ = std::move(what);
}

void Checker::on_role(const raft::Fsm& fsm) {
    if (fsm.role() != raft::Role::leader) return;
    auto [it, inserted] = leaders_.emplace(fsm.term(), fsm.id());
    if (!inserted) {
        if (it->second != fsm.id())
            fail(fmt::format("election safety: nodes {} and {} are both leader of term {}",
                             it->second, fsm.id(), fsm.term()));
        return;
    }
    // Leader completeness (3.6.3): every entry committed in an earlier term.
    const auto& log = fsm.log();
    for (const auto& [index, entry] : committed_) {
        if (committed_term_[index] >= fsm.term()) continue;
        if (index <= log.snapshot()->meta.index) continue;
        auto term = log.term_at(index);
        if (!term || *term != entry.term) {
            fail(fmt::format("leader completeness: leader {} of term {} lacks committed entry {}",
                             fsm.id(), fsm.term(), format_entry(entry)));
            return;
        }
    }
}

void Checker::on_persisted(NodeId node, const raft::RaftLog& log,
                           const std::vector<raft::Entry>& entries) {
    if (entries.empty()) return;
    on_persisted(node, log.term_at(entries.front().index.prev()), entries);
}

void Checker::on_persisted(NodeId node, std::optional<Term> first_prev_term,
                           const std::vector<raft::Entry>& entries) {
    std::optional<Term> prev = first_prev_term;
    for (size_t i = 0; i < entries.size(); prev = entries[i].term, ++i) {
        const raft::Entry& e = entries[i];
        if (!prev) continue;  // compacted meanwhile
        auto [it, inserted] =
            persisted_.emplace(std::make_pair(e.index, e.term), Persisted{e, *prev});
        if (inserted) continue;
        if (!(it->second.entry == e) || it->second.prev_term != *prev) {
            fail(
                fmt::format("log matching: node {} persisted {} (prev term {}) but {} (prev term "
                            "{}) exists",
                            node, format_entry(e), *prev, format_entry(it->second.entry),
                            it->second.prev_term));
            return;
        }
    }
}

void Checker::on_commit(const raft::Fsm& fsm, Index& last_seen) {
    const auto& log = fsm.log();
    const Index commit = log.committed();
    for (Index i = std::max(last_seen.next(), log.first_index()); i <= commit; i = i.next()) {
        const raft::Entry& e = log.at(i);
        auto [it, inserted] = committed_.emplace(i, e);
        if (inserted) {
            committed_term_[i] = fsm.term();
            continue;
        }
        if (!(it->second == e)) {
            fail(
                fmt::format("state machine safety: node {} committed {} at index {} where {} was "
                            "committed",
                            fsm.id(), format_entry(e), i, format_entry(it->second)));
            return;
        }
        committed_term_[i] = std::min(committed_term_[i], fsm.term());
    }
    last_seen = std::max(last_seen, commit);
}

void Checker::on_apply(NodeId node, const raft::Entry& e) {
    auto it = committed_.find(e.index);
    if (it == committed_.end()) {
        fail(fmt::format("node {} applied {} which no node committed", node, format_entry(e)));
    } else if (!(it->second == e)) {
        fail(fmt::format("state machine safety: node {} applied {} but {} is committed", node,
                         format_entry(e), format_entry(it->second)));
    }
}

uint64_t Checker::write_invoked(NodeId node, const std::string& value) {
    Op op;
    op.is_write = true;
    op.node = node;
    op.value = value;
    op.invoke = now();
    ops_.push_back(std::move(op));
    return ops_.size() - 1;
}

void Checker::write_acked(uint64_t op, Index index) {
    ops_[op].response = now();
    ops_[op].index = index;
    // Durability: the acknowledged write must be the committed entry there.
    auto it = committed_.find(index);
    if (it == committed_.end() || it->second.data != ops_[op].value)
        fail(fmt::format("write {} acknowledged at index {} is not committed there", ops_[op].value,
                         index));
}

uint64_t Checker::read_invoked(NodeId node) {
    Op op;
    op.node = node;
    op.invoke = now();
    ops_.push_back(std::move(op));
    return ops_.size() - 1;
}

void Checker::read_returned(uint64_t op, const std::string& value) {
    ops_[op].response = now();
    ops_[op].value = value;
}

size_t Checker::writes_acked() const {
    size_t n = 0;
    for (const auto& op : ops_) n += op.is_write && op.response;
    return n;
}

size_t Checker::reads_returned() const {
    size_t n = 0;
    for (const auto& op : ops_) n += !op.is_write && op.response;
    return n;
}

void Checker::check_history() {
    if (failed()) return;
    // Every write value is unique, and a committed write's position in the
    // register's history is its log index.
    std::map<std::string, Index> index_of;
    for (const auto& [index, e] : committed_) {
        if (e.type == raft::EntryType::command) index_of[e.data] = index;
    }
    const uint64_t never = UINT64_MAX;
    struct W {
        Index index;
        uint64_t invoke, response;
        std::string value;
    };
    std::map<std::string, W> writes;
    for (const auto& op : ops_) {
        if (!op.is_write) continue;
        auto it = index_of.find(op.value);
        if (op.response && it == index_of.end()) {
            fail(fmt::format("durability: acknowledged write {} is not committed", op.value));
            return;
        }
        if (it == index_of.end()) continue;  // never took effect
        writes[op.value] = {it->second, op.invoke, op.response.value_or(never), op.value};
    }
    // Writes respect real time: one acknowledged before another began is
    // ordered before it.
    for (const auto& [va, a] : writes) {
        for (const auto& [vb, b] : writes) {
            if (a.response < b.invoke && a.index >= b.index) {
                fail(
                    fmt::format("linearizability: write {} (index {}) finished before write {} "
                                "(index {}) began",
                                va, a.index, vb, b.index));
                return;
            }
        }
    }
    struct R {
        Index index;
        uint64_t invoke, response;
        std::string value;
        NodeId node;
    };
    std::vector<R> reads;
    for (const auto& op : ops_) {
        if (op.is_write || !op.response) continue;
        Index idx;
        if (!op.value.empty()) {
            auto it = writes.find(op.value);
            if (it == writes.end()) {
                fail(
                    fmt::format("linearizability: read at node {} returned {} which was never "
                                "committed by a client",
                                op.node, op.value));
                return;
            }
            idx = it->second.index;
            if (it->second.invoke > *op.response) {
                fail(
                    fmt::format("linearizability: read at node {} returned {} before it was "
                                "written",
                                op.node, op.value));
                return;
            }
        }
        reads.push_back({idx, op.invoke, *op.response, op.value, op.node});
    }
    for (const auto& r : reads) {
        // Not stale: no write later in the order finished before the read began.
        for (const auto& [v, w] : writes) {
            if (w.index > r.index && w.response < r.invoke) {
                fail(
                    fmt::format("linearizability: stale read at node {} returned '{}' (index {}) "
                                "but write {} (index {}) had finished before it began",
                                r.node, r.value, r.index, v, w.index));
                return;
            }
            if (r.response < w.invoke && r.index >= w.index) {
                fail(
                    fmt::format("linearizability: read at node {} returned '{}' (index {}) "
                                "before write {} (index {}) began",
                                r.node, r.value, r.index, v, w.index));
                return;
            }
        }
        // Reads never go back in time relative to earlier finished reads.
        for (const auto& q : reads) {
            if (q.response < r.invoke && q.index > r.index) {
                fail(
                    fmt::format("linearizability: read at node {} returned '{}' (index {}) after "
                                "a read at node {} had returned '{}' (index {})",
                                r.node, r.value, r.index, q.node, q.value, q.index));
                return;
            }
        }
    }
}

}  // namespace cleave::sim
