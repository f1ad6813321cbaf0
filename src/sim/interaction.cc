#include "sim/interaction.h"

#include <fmt/format.h>

#include <memory>
#include <sstream>
#include <vector>

#include "sim/cluster.h"
#include "sim/format.h"

namespace cleave::sim {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

std::set<NodeId> parse_ids(const std::string& list) {
    std::set<NodeId> out;
    for (const auto& p : split(list, ',')) out.insert(NodeId{std::stoull(p)});
    return out;
}

class Runner {
  public:
    // Executes one step; returns its output (lines ending in '\n').
    std::string step(const std::string& line) {
        out_.clear();
        auto args = split(line, ' ');
        if (args.empty()) return "error: empty step\n";
        const std::string& cmd = args[0];
        if (cmd == "cluster") {
            make_cluster(args);
        } else if (!cluster_) {
            return "error: 'cluster' must come first\n";
        } else {
            run(cmd, args);
        }
        if (cluster_ && cluster_->checker().failed() && !reported_) {
            reported_ = true;
            out_ += "VIOLATION: " + cluster_->checker().failure() + "\n";
        }
        return out_;
    }

  private:
    NodeId id(const std::vector<std::string>& args, size_t i) {
        if (i >= args.size()) throw std::invalid_argument("missing node id");
        const NodeId x{std::stoull(args[i])};
        if (cluster_ && !cluster_->ids().count(x)) throw std::invalid_argument("unknown node");
        return x;
    }

    void make_cluster(const std::vector<std::string>& args) {
        ClusterOptions co;
        co.reorder = false;
        co.raft.group = GroupId{1};
        co.raft.election_timeout_ticks = 10;
        co.raft.heartbeat_interval_ticks = 1;
        for (size_t i = 1; i < args.size(); ++i) {
            auto kv = split(args[i], '=');
            if (kv.size() != 2) continue;
            const std::string& k = kv[0];
            const std::string& v = kv[1];
            if (k == "voters") co.voters = parse_ids(v);
            if (k == "nodes") co.nodes = parse_ids(v);
            if (k == "prevote") co.raft.pre_vote = v == "true";
            if (k == "checkquorum") co.raft.check_quorum = v == "true";
            if (k == "lease") co.raft.lease_reads = v == "true";
            if (k == "batch")
                co.raft.max_entries_per_message = static_cast<uint32_t>(std::stoul(v));
            if (k == "inflight")
                co.raft.max_inflight_messages = static_cast<uint32_t>(std::stoul(v));
            if (k == "trailing") co.raft.snapshot_trailing_entries = std::stoull(v);
            if (k == "seed") co.seed = std::stoull(v);
#ifdef CLEAVE_PLANT_RAFT_BUGS
            if (k == "bug") co.raft.planted_bug = static_cast<raft::PlantedBug>(std::stoi(v));
#endif
        }
        cluster_ = std::make_unique<Cluster>(co);
        cluster_->network().set_drop_log(&dropped_);
        cluster_->set_trace(&out_);
    }

    void flush_dropped() {
        for (const auto& m : dropped_) out_ += "dropped " + format_message(m) + "\n";
        dropped_.clear();
    }

    void run(const std::string& cmd, const std::vector<std::string>& args) {
        Cluster& c = *cluster_;
        if (cmd == "campaign") {
            c.campaign(id(args, 1)).ignore();
        } else if (cmd == "tick") {
            const uint64_t n = args.size() > 1 ? std::stoull(args[1]) : 1;
            for (uint64_t k = 0; k < n; ++k) {
                if (args.size() > 2) {
                    for (size_t i = 2; i < args.size(); ++i) c.tick(id(args, i));
                } else {
                    c.tick_all();
                }
                c.advance_time();
            }
        } else if (cmd == "deliver") {
            // deliver [N...]: everything due (to nodes N... only, if given),
            // including what the deliveries themselves send.
            std::set<NodeId> to;
            for (size_t i = 1; i < args.size(); ++i) to.insert(id(args, i));
            const size_t max = 10000;
            for (size_t n = 0; n < max && c.deliver_one(to.empty() ? nullptr : &to); ++n)
                flush_dropped();
        } else if (cmd == "propose") {
            if (args.size() < 3) throw std::invalid_argument("propose N VALUE");
            auto r = c.propose(id(args, 1), args[2]);
            if (!r.is_ok()) out_ += "error: " + r.status().to_string() + "\n";
        } else if (cmd == "read") {
            Status s = c.read(id(args, 1));
            if (!s.is_ok()) out_ += "error: " + s.to_string() + "\n";
        } else if (cmd == "partition") {
            std::vector<std::set<NodeId>> groups;
            groups.emplace_back();
            for (size_t i = 1; i < args.size(); ++i) {
                if (args[i] == "|") {
                    groups.emplace_back();
                } else {
                    groups.back().insert(id(args, i));
                }
            }
            for (size_t a = 0; a < groups.size(); ++a)
                for (size_t b = 0; b < groups.size(); ++b)
                    if (a != b)
                        for (NodeId x : groups[a])
                            for (NodeId y : groups[b]) c.network().block(x, y);
        } else if (cmd == "isolate") {
            const NodeId x = id(args, 1);
            for (NodeId y : c.ids()) {
                if (y == x) continue;
                c.network().block(x, y);
                c.network().block(y, x);
            }
        } else if (cmd == "heal") {
            c.network().heal();
        } else if (cmd == "crash") {
            c.crash(id(args, 1));
        } else if (cmd == "restart") {
            c.restart(id(args, 1));
        } else if (cmd == "snapshot") {
            Status s = c.snapshot(id(args, 1));
            if (!s.is_ok()) out_ += "error: " + s.to_string() + "\n";
        } else if (cmd == "transfer") {
            Status s = c.transfer(id(args, 1), id(args, 2));
            if (!s.is_ok()) out_ += "error: " + s.to_string() + "\n";
        } else if (cmd == "config") {
            std::set<NodeId> voters, learners;
            for (size_t i = 2; i < args.size(); ++i) {
                auto kv = split(args[i], '=');
                if (kv.size() == 2 && kv[0] == "voters") voters = parse_ids(kv[1]);
                if (kv.size() == 2 && kv[0] == "learners") learners = parse_ids(kv[1]);
            }
            auto r = c.change_config(id(args, 1), voters, learners);
            if (!r.is_ok()) out_ += "error: " + r.status().to_string() + "\n";
        } else if (cmd == "status") {
            std::vector<NodeId> which;
            for (size_t i = 1; i < args.size(); ++i) which.push_back(id(args, i));
            if (which.empty()) which.assign(c.ids().begin(), c.ids().end());
            for (NodeId n : which) {
                if (!c.alive(n)) {
                    out_ += fmt::format("{} down\n", n);
                } else {
                    out_ += format_status(*c.node(n).fsm) + "\n";
                }
            }
        } else if (cmd == "log") {
            const NodeId n = id(args, 1);
            if (!c.alive(n)) {
                out_ += fmt::format("{} down\n", n);
                return;
            }
            const auto& log = c.node(n).fsm->log();
            std::string line = fmt::format("{} log:", n);
            for (Index i = log.first_index(); i <= log.last_index(); i = i.next())
                line += " " + format_entry(log.at(i));
            out_ += line + "\n";
        } else {
            out_ += "error: unknown step '" + cmd + "'\n";
        }
        flush_dropped();
    }

    std::unique_ptr<Cluster> cluster_;
    std::string out_;
    std::vector<raft::Message> dropped_;
    bool reported_ = false;
};

bool is_step(const std::string& line) { return line.rfind("> ", 0) == 0; }
bool is_kept(const std::string& line) { return line.empty() || line[0] == '#'; }

}  // namespace

std::string run_interaction(const std::string& script) {
    Runner runner;
    std::istringstream in(script);
    std::string line, result;
    bool skipping = false;  // inside a step's old expected output
    while (std::getline(in, line)) {
        if (is_step(line)) {
            result += line + "\n";
            try {
                result += runner.step(line.substr(2));
            } catch (const std::exception& e) {
                result += std::string("error: bad step: ") + e.what() + "\n";
            }
            skipping = true;
        } else if (is_kept(line)) {
            result += line + "\n";
            skipping = false;
        } else if (!skipping) {
            result += line + "\n";  // stray text outside a step: keep it
        }
    }
    return result;
}

}  // namespace cleave::sim
