#include "node/remote_engine.h"

#include <algorithm>

#include "multiraft/wire.h"
#include "shard/routed_engine.h"

namespace cleave::node {

using std::chrono::milliseconds;

namespace {

// A replica's read barrier may wait up to 5 s (RaftReplicaOptions); the call
// allows a little more so the replica's own answer arrives.
constexpr milliseconds kReadCallTimeout{6000};
// A cursor's first page is small (a point lookup by prefix reads one pair);
// later pages grow, so a long listing costs few round trips.
constexpr uint32_t kFirstPage = 32;
constexpr uint32_t kMaxPage = 1024;
// And a page stops growing past this many bytes (inline objects are up to
// 64 KiB each), well under the transport's frame limit.
constexpr size_t kMaxPageBytes = 4 << 20;

class TokenSnapshot final : public storage::Snapshot {};

class RemoteIterator final : public storage::Iterator {
  public:
    RemoteIterator(RemoteEngine& engine, GroupId group, storage::IterOptions options)
        : engine_(engine), group_(group), options_(std::move(options)) {}

    void seek_to_first() override { fetch(options_.lower_bound, kFirstPage); }
    void seek(std::string_view target) override {
        fetch(std::max(std::string(target), options_.lower_bound), kFirstPage);
    }
    bool valid() const override { return status_.is_ok() && pos_ < page_.size(); }
    void next() override {
        if (++pos_ < page_.size() || !more_) return;
        std::string after = page_.back().key();
        after.push_back('\0');  // the smallest key after the last one seen
        fetch(after, std::min<uint32_t>(limit_ * 2, kMaxPage));
    }
    std::string_view key() const override { return page_[pos_].key(); }
    std::string_view value() const override { return page_[pos_].value(); }
    Status status() const override { return status_; }

  private:
    void fetch(const std::string& from, uint32_t limit) {
        limit_ = limit;
        KvRead req;
        req.set_group(group_.value());
        req.set_key(from);
        req.set_check_owner(true);
        if (options_.upper_bound) {
            req.set_upper(*options_.upper_bound);
            req.set_has_upper(true);
        }
        req.set_limit(limit);
        auto r = engine_.read(req);
        page_.clear();
        pos_ = 0;
        more_ = false;
        if (!r.is_ok()) {
            status_ = r.status();
            return;
        }
        status_ = Status::ok();
        page_.assign(std::make_move_iterator(r->mutable_pairs()->begin()),
                     std::make_move_iterator(r->mutable_pairs()->end()));
        more_ = r->more() && !page_.empty();
    }

    RemoteEngine& engine_;
    const GroupId group_;
    const storage::IterOptions options_;
    std::vector<KvPair> page_;
    size_t pos_ = 0;
    bool more_ = false;
    uint32_t limit_ = kFirstPage;
    Status status_ = Status::ok();
};

}  // namespace

// ---- ReadSpreader ------------------------------------------------------------

uint64_t ReadSpreader::pick(const std::vector<uint64_t>& replicas,
                            const std::vector<uint64_t>& tried) {
    std::lock_guard lock(mu_);
    uint64_t best = 0;
    int best_load = 0;
    const size_t n = replicas.size();
    // Ties go round-robin (starting point rotates), so an idle client's
    // sequential reads still visit every replica.
    const size_t start = n ? static_cast<size_t>(tie_++ % n) : 0;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t r = replicas[(start + i) % n];
        if (std::find(tried.begin(), tried.end(), r) != tried.end()) continue;
        const int load = outstanding_[r];
        if (best == 0 || load < best_load) {
            best = r;
            best_load = load;
        }
    }
    return best;
}

void ReadSpreader::begin(uint64_t node) {
    std::lock_guard lock(mu_);
    ++outstanding_[node];
}

void ReadSpreader::end(uint64_t node) {
    std::lock_guard lock(mu_);
    --outstanding_[node];
}

// ---- RemoteEngine ------------------------------------------------------------

RemoteEngine::RemoteEngine(Remote& remote, ReadSpreader& spreader, GroupId group,
                           std::function<std::vector<uint64_t>()> replicas)
    : remote_(remote), spreader_(spreader), group_(group), replicas_(std::move(replicas)) {}

Result<KvResult> RemoteEngine::read(const KvRead& request) {
    const std::string body = kv_read_request(request);
    Status last = Status::unavailable("shard has no replicas");
    const std::vector<uint64_t> replicas = replicas_();
    size_t not_hosting = 0;  // replicas that answered: no such group here
    // A read changes nothing: any failure is retried on the next replica.
    // First pass: only replicas with a live connection (a dead one costs
    // nothing); second pass, if none of them answered: wait for connections
    // (a gateway that just started has none yet).
    for (const bool connected_only : {true, false}) {
        std::vector<uint64_t> tried;
        while (true) {
            const uint64_t node = spreader_.pick(replicas, tried);
            if (node == 0) break;
            tried.push_back(node);
            spreader_.begin(node);
            bool sent = false;
            auto r = connected_only ? remote_.call_if_connected(node, body, kReadCallTimeout, &sent)
                                    : remote_.call(node, body, kReadCallTimeout);
            spreader_.end(node);
            if (!r.is_ok()) {
                // The shard no longer owns what was asked: every replica
                // would say so; the caller re-routes.
                if (r.status().code() == Errc::stale_epoch) return r.status();
                if (sent && r.status().code() == Errc::not_found) ++not_hosting;
                last = r.status();
                continue;
            }
            KvResult out;
            if (!out.ParseFromString(*r)) {
                last = Status::corruption(fmt::format("bad read answer from node {}", node));
                continue;
            }
            return out;
        }
    }
    // None of the replicas the route names hosts the shard any more (it
    // moved): the caller reads the map again.
    if (!replicas.empty() && not_hosting >= replicas.size())
        return Status(Errc::stale_epoch,
                      fmt::format("no replica named for shard {} hosts it", group_.value()));
    return Status::unavailable(
        fmt::format("no replica of shard {} answered a read: {}", group_.value(), last.message()));
}

Result<std::optional<std::string>> RemoteEngine::get(std::string_view key,
                                                     const storage::Snapshot*) {
    KvRead req;
    req.set_group(group_.value());
    req.set_key(std::string(key));
    req.set_check_owner(true);
    CLEAVE_ASSIGN_OR_RETURN(KvResult r, read(req));
    if (!r.found()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(*r.mutable_value()));
}

Status RemoteEngine::write(const storage::WriteBatch&, const storage::WriteOptions&) {
    return Status::internal("a gateway's view of a shard is read-only");
}

std::unique_ptr<storage::Iterator> RemoteEngine::iterate(const storage::IterOptions& options) {
    return std::make_unique<RemoteIterator>(*this, group_, options);
}

std::unique_ptr<storage::Snapshot> RemoteEngine::snapshot() {
    return std::make_unique<TokenSnapshot>();
}

Status RemoteEngine::checkpoint(const std::string&) {
    return Status::internal("a gateway holds no copy of the shard");
}

// ---- the replica's side ------------------------------------------------------

std::string kv_read_request(const KvRead& request) {
    std::string out(1, multiraft::wire::kKvRead);
    request.AppendToString(&out);
    return out;
}

Result<KvRead> parse_kv_read(std::string_view body) {
    KvRead req;
    if (body.empty() || !req.ParseFromArray(body.data() + 1, static_cast<int>(body.size() - 1)))
        return Status::invalid_argument("malformed read request");
    return req;
}

Result<std::string> serve_kv_read(storage::Engine& engine, const KvRead& request) {
    KvResult out;
    // One snapshot for the ownership check and the read.
    auto snap = engine.snapshot();
    const std::string& key = request.key();
    if (request.check_owner() && !key.empty() && shard::is_keyed_family(key[0])) {
        // The placement keys read: the point's own, or the scan's [lower,
        // upper) inside the family ("" = to the family's end).
        std::string hi;
        if (request.limit() == 0) {
            hi = key.substr(1) + '\0';
        } else if (request.has_upper() && !request.upper().empty() &&
                   request.upper()[0] == key[0]) {
            hi = request.upper().substr(1);
        }
        CLEAVE_RETURN_IF_ERROR(shard::check_owns(
            engine, snap.get(), std::string_view(key).substr(1), hi, request.group()));
    }
    if (request.limit() == 0) {
        CLEAVE_ASSIGN_OR_RETURN(auto v, engine.get(request.key(), snap.get()));
        if (v) {
            out.set_found(true);
            out.set_value(std::move(*v));
        }
        return out.SerializeAsString();
    }
    storage::IterOptions io;
    io.lower_bound = request.key();
    io.snapshot = snap.get();
    if (request.has_upper()) io.upper_bound = request.upper();
    auto it = engine.iterate(io);
    const uint32_t limit = std::min(request.limit(), kMaxPage);
    size_t bytes = 0;
    for (it->seek_to_first(); it->valid(); it->next()) {
        if (static_cast<uint32_t>(out.pairs_size()) == limit || bytes >= kMaxPageBytes) {
            out.set_more(true);
            break;
        }
        auto* p = out.add_pairs();
        p->set_key(std::string(it->key()));
        p->set_value(std::string(it->value()));
        bytes += it->key().size() + it->value().size();
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    return out.SerializeAsString();
}

}  // namespace cleave::node
