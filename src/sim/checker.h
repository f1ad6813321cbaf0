#pragma once
// The simulator's oracle. It sees every persisted entry, every commit, every
// apply, every leader and every client operation, and records the first
// violation of (dissertation figure 3.2 and chapter 6):
//
//   election safety        at most one leader per term
//   log matching           same index and term => same entry and same prefix
//   leader completeness    a leader holds every entry committed in earlier terms
//   state machine safety   no two nodes apply different entries at one index
//   durability             an acknowledged write stays committed
//   linearizability        the client history fits one register (check_history)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/fsm.h"
#include "raft/types.h"

namespace cleave::sim {

class Checker {
  public:
    bool failed() const { return !failure_.empty(); }
    const std::string& failure() const { return failure_; }
    // Records a violation (only the first one is kept).
    void fail(std::string what);

    // --- Raft invariants
    void on_role(const raft::Fsm& fsm);
    void on_persisted(NodeId node, const raft::RaftLog& log,
                      const std::vector<raft::Entry>& entries);
    // The same, with the term before the first entry as it was when they
    // were written (asynchronous persistence: the log may have moved on by
    // the sync). Nullopt when unknown (compacted).
    void on_persisted(NodeId node, std::optional<Term> first_prev_term,
                      const std::vector<raft::Entry>& entries);
    // Scans entries newly known committed at `fsm` (call after each step).
    void on_commit(const raft::Fsm& fsm, Index& last_seen_commit);
    void on_apply(NodeId node, const raft::Entry& entry);
    const std::map<Index, raft::Entry>& committed() const { return committed_; }

    // --- client history (logical time advances on every event)
    uint64_t now() { return ++clock_; }
    uint64_t write_invoked(NodeId node, const std::string& value);
    void write_acked(uint64_t op, Index index);
    uint64_t read_invoked(NodeId node);
    void read_returned(uint64_t op, const std::string& value);
    // Checks the history against a linearizable register whose writes are
    // ordered by their log index. Call at the end of a run.
    void check_history();
    size_t writes_acked() const;
    size_t reads_returned() const;

  private:
    struct Op {
        bool is_write = false;
        NodeId node;
        std::string value;  // written, or read
        uint64_t invoke = 0;
        std::optional<uint64_t> response;
        Index index;  // write: log index once acknowledged
    };
    struct Persisted {
        raft::Entry entry;
        Term prev_term;
    };
    struct Committed {
        raft::Entry entry;
        Term observed_in;  // lowest term in which a node saw it committed
    };

    std::string failure_;
    std::map<Term, NodeId> leaders_;
    std::map<std::pair<Index, Term>, Persisted> persisted_;
    std::map<Index, raft::Entry> committed_;
    std::map<Index, Term> committed_term_;
    uint64_t clock_ = 0;
    std::vector<Op> ops_;
};

}  // namespace cleave::sim
