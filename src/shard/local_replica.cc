#include "shard/local_replica.h"

#include "common/logging.h"

namespace cleave::shard {

namespace {
std::shared_ptr<spdlog::logger> log() {
    static auto l = module_logger("shard");
    return l;
}
}  // namespace

Result<std::unique_ptr<LocalReplica>> LocalReplica::open(storage::Engine& engine,
                                                         LocalReplicaOptions options) {
    CLEAVE_ASSIGN_OR_RETURN(auto cmd_log, EngineCommandLog::open(engine));
    auto replica =
        std::unique_ptr<LocalReplica>(new LocalReplica(engine, options, std::move(cmd_log)));
    CLEAVE_RETURN_IF_ERROR(replica->recover());
    replica->loop_ = std::thread([r = replica.get()] { r->run(); });
    return replica;
}

LocalReplica::LocalReplica(storage::Engine& engine, LocalReplicaOptions options,
                           std::unique_ptr<CommandLog> log)
    : engine_(engine), options_(options), log_(std::move(log)),
      state_machine_(engine, options.split_host) {}

LocalReplica::~LocalReplica() { stop(); }

Status LocalReplica::recover() {
    CLEAVE_ASSIGN_OR_RETURN(uint64_t applied, state_machine_.load_applied_index());
    uint64_t replayed = 0;
    while (true) {
        CLEAVE_ASSIGN_OR_RETURN(auto entries, log_->read(applied + 1, 1024));
        if (entries.empty()) break;
        for (auto& e : entries) {
            Command c;
            if (!c.ParseFromString(e.payload)) {
                return Status::corruption(
                    fmt::format("unparsable command at log index {}", e.index));
            }
            auto outcome = state_machine_.apply(e.index, c);
            if (!outcome.is_ok()) return outcome.status();
            applied = e.index;
            ++replayed;
        }
    }
    if (applied < log_->last_index()) {
        return Status::corruption(fmt::format("command log has a gap after index {} (last {})",
                                              applied, log_->last_index()));
    }
    applied_index_.store(applied);
    if (replayed) log()->info("replayed {} logged commands; applied index {}", replayed, applied);
    return Status::ok();
}

Result<ApplyOutcome> LocalReplica::propose(Command command) {
    std::future<Result<ApplyOutcome>> result;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return Status(Errc::aborted, "shard is stopping");
        if (!fatal_.is_ok())
            return Status(Errc::unavailable, "shard stopped: " + fatal_.to_string());
        queue_.push_back(Pending{std::move(command), {}});
        result = queue_.back().done.get_future();
    }
    cv_.notify_one();
    return result.get();
}

void LocalReplica::fail_all(std::deque<Pending>& batch, const Status& s) {
    for (auto& p : batch) p.done.set_value(s);
    batch.clear();
}

void LocalReplica::run() {
    uint64_t since_compaction = 0;
    while (true) {
        std::deque<Pending> batch;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) {
                fail_all(queue_, Status(Errc::aborted, "shard is stopping"));
                return;
            }
            while (!queue_.empty() && batch.size() < options_.max_group_commands) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // 0. After a transient engine failure (e.g. its Redis server went
        // away), re-read the log and replay what is logged but not applied
        // before taking new commands; until that works, answer unavailable.
        if (needs_recovery_) {
            Status rs = reload();
            if (!rs.is_ok()) {
                fail_all(batch,
                         Status(Errc::unavailable,
                                "shard recovering from a storage failure: " + rs.to_string()));
                continue;
            }
            needs_recovery_ = false;
            log()->info("shard recovered from the storage failure; applied index {}",
                        applied_index_.load());
        }
        // 1. Log the whole group with one sync.
        std::vector<LogEntry> entries;
        entries.reserve(batch.size());
        uint64_t next = log_->last_index() + 1;
        for (auto& p : batch) entries.push_back({next++, p.command.SerializeAsString()});
        Status s = log_->append(entries);
        if (!s.is_ok() && s.code() == Errc::unavailable) {
            // The engine is unreachable; the entries may or may not be logged.
            // Their proposers are told so (unavailable: in doubt); recovery
            // re-reads the log before the next batch.
            log()->error("command log append failed: {}", s.to_string());
            fail_all(batch,
                     Status(Errc::unavailable, "command log append failed: " + s.to_string()));
            needs_recovery_ = true;
            continue;
        }
        if (!s.is_ok()) {
            log()->error("command log append failed: {}", s.to_string());
            std::lock_guard lock(mu_);
            fatal_ = s;
            fail_all(batch,
                     Status(Errc::unavailable, "command log append failed: " + s.to_string()));
            fail_all(queue_, Status(Errc::unavailable, "shard stopped"));
            return;
        }
        // 2. Apply in order, 3. answer.
        for (size_t i = 0; i < batch.size(); ++i) {
            auto outcome = state_machine_.apply(entries[i].index, batch[i].command);
            if (!outcome.is_ok() && outcome.status().code() == Errc::unavailable) {
                // Logged but not applied: recovery replays it (and the rest
                // of the batch) once the engine is back; their proposers are
                // in doubt.
                log()->error("apply of index {} failed: {}", entries[i].index,
                             outcome.status().to_string());
                for (size_t j = i; j < batch.size(); ++j) {
                    batch[j].done.set_value(
                        Status(Errc::unavailable, "apply failed: " + outcome.status().to_string()));
                }
                batch.clear();
                needs_recovery_ = true;
                break;
            }
            if (!outcome.is_ok()) {
                // The command is logged; a restart replays it. Until then the
                // shard can't make progress safely.
                log()->error("apply of index {} failed: {}", entries[i].index,
                             outcome.status().to_string());
                std::lock_guard lock(mu_);
                fatal_ = outcome.status();
                for (size_t j = i; j < batch.size(); ++j) {
                    batch[j].done.set_value(
                        Status(Errc::unavailable, "apply failed: " + outcome.status().to_string()));
                }
                fail_all(queue_, Status(Errc::unavailable, "shard stopped"));
                return;
            }
            applied_index_.store(entries[i].index, std::memory_order_release);
            batch[i].done.set_value(std::move(outcome));
        }
        if (needs_recovery_) continue;
        // Compaction: make the applied state durable, then drop the log
        // entries it covers.
        since_compaction += entries.size();
        if (since_compaction >= options_.compact_every_entries) {
            since_compaction = 0;
            uint64_t upto = entries.back().index;
            Status cs = engine_.sync();
            if (cs.is_ok()) cs = log_->compact(upto);
            if (!cs.is_ok()) log()->warn("log compaction failed (will retry): {}", cs.to_string());
        }
    }
}

void LocalReplica::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (loop_.joinable()) loop_.join();
}

Status LocalReplica::reload() {
    CLEAVE_ASSIGN_OR_RETURN(auto cmd_log, EngineCommandLog::open(engine_));
    log_ = std::move(cmd_log);
    return recover();
}

uint64_t LocalReplica::applied_index() const {
    return applied_index_.load(std::memory_order_acquire);
}

}  // namespace cleave::shard
