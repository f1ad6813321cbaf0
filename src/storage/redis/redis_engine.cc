#include "storage/redis/redis_engine.h"

#include <hiredis.h>

#include <charconv>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "common/logging.h"
#include "storage/dump.h"
#include "storage/engine_util.h"

namespace cleave::storage {

namespace {

std::shared_ptr<spdlog::logger> logger() { return module_logger("storage"); }

// Applies one WriteBatch atomically. KEYS: zset, hash, byte counter.
// ARGV: ops, each 'p' key value | 'd' key | 'r' begin end.
constexpr std::string_view kWriteScript = R"lua(
local z, h, b = KEYS[1], KEYS[2], KEYS[3]
local delta = 0
local i = 1
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'p' then
    local k, v = ARGV[i + 1], ARGV[i + 2]
    if redis.call('ZADD', z, 0, k) == 1 then
      delta = delta + #k
    else
      delta = delta - redis.call('HSTRLEN', h, k)
    end
    redis.call('HSET', h, k, v)
    delta = delta + #v
    i = i + 3
  elseif op == 'd' then
    local k = ARGV[i + 1]
    if redis.call('ZREM', z, k) == 1 then
      delta = delta - #k - redis.call('HSTRLEN', h, k)
      redis.call('HDEL', h, k)
    end
    i = i + 2
  else
    local lo, hi = '[' .. ARGV[i + 1], '(' .. ARGV[i + 2]
    local ks = redis.call('ZRANGEBYLEX', z, lo, hi)
    for _, k in ipairs(ks) do
      delta = delta - #k - redis.call('HSTRLEN', h, k)
      redis.call('HDEL', h, k)
    end
    if #ks > 0 then redis.call('ZREMRANGEBYLEX', z, lo, hi) end
    i = i + 3
  end
end
if delta ~= 0 then redis.call('INCRBY', b, delta) end
return 1
)lua";

// One page of an ordered scan, atomically. KEYS: zset, hash.
// ARGV: min, max (ZRANGEBYLEX specs), limit. Returns key, value, key, value…
constexpr std::string_view kPageScript = R"lua(
local ks = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, k in ipairs(ks) do
  local v = redis.call('HGET', KEYS[2], k)
  if not v then return redis.error_reply('cleave: key in index without a value') end
  out[2 * i - 1] = k
  out[2 * i] = v
end
return out
)lua";

// Freezes a copy of the zset and hash. KEYS: zset, hash, snap zset, snap hash.
constexpr std::string_view kSnapshotScript = R"lua(
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('COPY', KEYS[1], KEYS[3])
redis.call('COPY', KEYS[2], KEYS[4])
return 1
)lua";

// KEYS: zset, byte counter. ARGV: min, max. Returns {in range, total, bytes}.
constexpr std::string_view kSizeScript = R"lua(
local n = redis.call('ZLEXCOUNT', KEYS[1], ARGV[1], ARGV[2])
local total = redis.call('ZCARD', KEYS[1])
local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
return {n, total, bytes}
)lua";

constexpr size_t kPageEntries = 128;

struct ReplyDeleter {
    void operator()(redisReply* r) const {
        if (r) freeReplyObject(r);
    }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string_view str(const redisReply* r) { return {r->str, r->len}; }

struct Script {
    std::string_view body;
    std::string sha;  // as SCRIPT LOAD named it (hex SHA-1); set on connecting
};

// Redis's errors that mean "try again later" rather than "this is wrong".
bool is_transient(std::string_view err) {
    for (std::string_view p : {"LOADING", "BUSY", "MISCONF", "OOM", "READONLY", "MASTERDOWN",
                               "TRYAGAIN", "NOREPLICAS"}) {
        if (err.substr(0, p.size()) == p) return true;
    }
    return false;
}

std::string escape_glob(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

}  // namespace

// --------------------------------------------------------------- url parse --

Result<RedisUrl> parse_redis_url(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    auto bad = [&](std::string_view why) {
        return Status::invalid_argument(
            fmt::format("bad redis url '{}': {} (expected redis://HOST[:PORT][/DB])", url, why));
    };
    if (url.substr(0, scheme.size()) != scheme) return bad("must start with redis://");
    std::string_view rest = url.substr(scheme.size());
    RedisUrl out;
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view cred = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = cred.find(':');
        if (colon == std::string_view::npos) {
            out.password = std::string(cred);
        } else {
            out.user = std::string(cred.substr(0, colon));
            out.password = std::string(cred.substr(colon + 1));
        }
    }
    std::string_view hostport = rest;
    std::string_view db;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostport = rest.substr(0, slash);
        db = rest.substr(slash + 1);
    }
    std::string_view port;
    if (!hostport.empty() && hostport[0] == '[') {
        auto close = hostport.find(']');
        if (close == std::string_view::npos) return bad("unclosed [");
        out.host = std::string(hostport.substr(1, close - 1));
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return bad("junk after ]");
            port = after.substr(1);
        }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        out.host = std::string(hostport.substr(0, colon));
        port = hostport.substr(colon + 1);
    } else {
        out.host = std::string(hostport);
    }
    if (out.host.empty()) return bad("no host");
    auto parse_int = [](std::string_view s, int& v) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc() && p == s.data() + s.size();
    };
    if (!port.empty() && (!parse_int(port, out.port) || out.port <= 0 || out.port > 65535)) {
        return bad("bad port");
    }
    if (!db.empty() && (!parse_int(db, out.db) || out.db < 0)) return bad("bad database number");
    return out;
}

// -------------------------------------------------------------- connection --

struct RedisEngine::Impl {
    Impl(RedisOptions o, RedisUrl u)
        : options(std::move(o)),
          url(std::move(u)),
          where(fmt::format("redis {}:{}/{}", url.host, url.port, url.db)),
          zkey(options.key_prefix + "z"),
          hkey(options.key_prefix + "h"),
          bytes_key(options.key_prefix + "bytes"),
          snapseq_key(options.key_prefix + "snapseq"),
          write_script{kWriteScript, {}},
          page_script{kPageScript, {}},
          snapshot_script{kSnapshotScript, {}},
          size_script{kSizeScript, {}} {}

    ~Impl() {
        if (ctx) redisFree(ctx);
    }

    // Runs one command; reconnects first if needed. A reply of type error
    // comes back as a Status; a lost connection as unavailable.
    Result<Reply> command(const std::vector<std::string_view>& args) {
        std::lock_guard lock(mu);
        return command_locked(args);
    }

    Result<Reply> command_locked(const std::vector<std::string_view>& args) {
        if (!ctx) CLEAVE_RETURN_IF_ERROR(connect_locked());
        std::vector<const char*> argv;
        std::vector<size_t> argvlen;
        argv.reserve(args.size());
        argvlen.reserve(args.size());
        for (auto a : args) {
            argv.push_back(a.data());
            argvlen.push_back(a.size());
        }
        Reply r(static_cast<redisReply*>(
            redisCommandArgv(ctx, static_cast<int>(args.size()), argv.data(), argvlen.data())));
        if (!r || ctx->err) {
            Status s = Status::unavailable(fmt::format(
                "{}: connection lost ({}); the outcome of '{}' is unknown; reconnecting on the "
                "next call",
                where, ctx->err ? ctx->errstr : "no reply", args.empty() ? "" : args[0]));
            logger()->warn("{}", s.message());
            redisFree(ctx);
            ctx = nullptr;
            return s;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            std::string msg = fmt::format("{}: {} failed: {}", where, args[0], str(r.get()));
            if (is_transient(str(r.get()))) return Status::unavailable(std::move(msg));
            return Status::io_error(std::move(msg));
        }
        return r;
    }

    // EVALSHA, loading the script on a NOSCRIPT reply (a restarted server).
    Result<Reply> eval(Script& script, const std::vector<std::string_view>& keys,
                       const std::vector<std::string_view>& argv) {
        std::lock_guard lock(mu);
        // Copied: a reconnect inside command_locked() reloads the scripts and
        // reassigns script.sha under our feet.
        const std::string sha = script.sha;
        const std::string nkeys = std::to_string(keys.size());
        std::vector<std::string_view> args = {"EVALSHA", sha, nkeys};
        args.insert(args.end(), keys.begin(), keys.end());
        args.insert(args.end(), argv.begin(), argv.end());
        auto r = command_locked(args);
        if (r.is_ok() || r.status().message().find("NOSCRIPT") == std::string::npos) return r;
        args[0] = "EVAL";
        args[1] = script.body;
        return command_locked(args);
    }

    Status connect_locked() {
        const struct timeval tv = {static_cast<time_t>(options.timeout_ms / 1000),
                                   static_cast<suseconds_t>((options.timeout_ms % 1000) * 1000)};
        redisContext* c = redisConnectWithTimeout(url.host.c_str(), url.port, tv);
        if (!c || c->err) {
            Status s = Status::unavailable(
                fmt::format("{}: cannot connect: {}", where, c ? c->errstr : "out of memory"));
            if (c) redisFree(c);
            return s;
        }
        redisSetTimeout(c, tv);
        redisEnableKeepAlive(c);
        ctx = c;
        Status s = handshake_locked();
        if (!s.is_ok() && ctx) {
            redisFree(ctx);
            ctx = nullptr;
        }
        return s;
    }

    // AUTH, SELECT, and the version and durability checks, on a new connection.
    Status handshake_locked() {
        if (!url.password.empty()) {
            std::vector<std::string_view> auth = {"AUTH"};
            if (!url.user.empty()) auth.push_back(url.user);
            auth.push_back(url.password);
            CLEAVE_RETURN_IF_ERROR(command_locked(auth).status());
        }
        const std::string db = std::to_string(url.db);
        CLEAVE_RETURN_IF_ERROR(command_locked({"SELECT", db}).status());

        CLEAVE_ASSIGN_OR_RETURN(Reply info, command_locked({"INFO", "server"}));
        if (info->type != REDIS_REPLY_STRING) {
            return Status::io_error(where + ": unexpected INFO reply");
        }
        std::string_view text = str(info.get());
        int major = 0, minor = 0;
        if (auto p = text.find("redis_version:"); p != std::string_view::npos) {
            std::string_view v = text.substr(p + 14);
            auto [q, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
            if (ec == std::errc() && q < v.data() + v.size() && *q == '.') {
                std::from_chars(q + 1, v.data() + v.size(), minor);
            }
        }
        if (major < 6 || (major == 6 && minor < 2)) {
            return Status::precondition_failed(
                fmt::format("{} runs Redis {}.{}; Cleave's Redis engine needs 6.2 or later (COPY)",
                            where, major, minor));
        }

        auto config = [&](std::string_view name) -> Result<std::string> {
            CLEAVE_ASSIGN_OR_RETURN(Reply r, command_locked({"CONFIG", "GET", name}));
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                return Status::io_error(
                    fmt::format("{}: CONFIG GET {} gave no value", where, name));
            }
            return std::string(str(r->element[1]));
        };
        auto aof = config("appendonly");
        auto fsync = config("appendfsync");
        const bool durable = aof.is_ok() && fsync.is_ok() && *aof == "yes" && *fsync == "always";
        if (!durable) {
            std::string seen = aof.is_ok() && fsync.is_ok()
                                   ? fmt::format("appendonly {}, appendfsync {}", *aof, *fsync)
                                   : fmt::format("its settings could not be read: {}",
                                                 (aof.is_ok() ? fsync : aof).status().message());
            if (!options.allow_weak_durability) {
                return Status::precondition_failed(fmt::format(
                    "{} is not durable enough: {} (need appendonly yes and appendfsync always, "
                    "or acknowledged writes can be lost in a crash). Configure the server so, or "
                    "accept the risk explicitly with allow_weak_durability "
                    "(--redis-allow-weak-durability).",
                    where, seen));
            }
            if (!warned_weak) {
                logger()->warn("{}: weak durability accepted by option: {}", where, seen);
                warned_weak = true;
            }
        }
        for (Script* script : {&write_script, &page_script, &snapshot_script, &size_script}) {
            CLEAVE_ASSIGN_OR_RETURN(Reply r, command_locked({"SCRIPT", "LOAD", script->body}));
            if (r->type != REDIS_REPLY_STRING)
                return Status::io_error(where + ": SCRIPT LOAD failed");
            script->sha = std::string(str(r.get()));
        }
        return Status::ok();
    }

    Result<std::optional<std::string>> hget(const std::string& hash, std::string_view key) {
        CLEAVE_ASSIGN_OR_RETURN(Reply r, command({"HGET", hash, key}));
        if (r->type == REDIS_REPLY_NIL) return std::optional<std::string>();
        if (r->type != REDIS_REPLY_STRING)
            return Status::io_error(where + ": unexpected HGET reply");
        return std::optional<std::string>(std::string(str(r.get())));
    }

    // Up to `limit` entries of [min, max] (ZRANGEBYLEX specs) in `z`/`h`.
    Status page(const std::string& z, const std::string& h, const std::string& min,
                const std::string& max, size_t limit,
                std::vector<std::pair<std::string, std::string>>& out) {
        const std::string n = std::to_string(limit);
        CLEAVE_ASSIGN_OR_RETURN(Reply r, eval(page_script, {z, h}, {min, max, n}));
        if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
            return Status::io_error(where + ": unexpected scan reply");
        }
        out.clear();
        for (size_t i = 0; i < r->elements; i += 2) {
            out.emplace_back(std::string(str(r->element[i])), std::string(str(r->element[i + 1])));
        }
        return Status::ok();
    }

    const RedisOptions options;
    const RedisUrl url;
    const std::string where;  // "redis HOST:PORT/DB", for messages
    const std::string zkey, hkey, bytes_key, snapseq_key;

    std::mutex mu;
    Script write_script, page_script, snapshot_script, size_script;  // guarded by mu
    redisContext* ctx = nullptr;  // guarded by mu; null when disconnected
    bool warned_weak = false;     // guarded by mu
};

namespace {

using Impl = RedisEngine::Impl;

class RedisSnapshot final : public Snapshot {
  public:
    RedisSnapshot(std::shared_ptr<Impl> impl, std::string z, std::string h, Status status)
        : impl_(std::move(impl)), z_(std::move(z)), h_(std::move(h)), status_(std::move(status)) {}
    ~RedisSnapshot() override {
        if (!status_.is_ok()) return;
        auto r = impl_->command({"UNLINK", z_, h_});
        if (!r.is_ok()) {
            logger()->warn("snapshot copy {} not removed ({}); the next open removes it", z_,
                           r.status().to_string());
        }
    }
    const std::string& z() const { return z_; }
    const std::string& h() const { return h_; }
    // Not OK if the snapshot could not be taken: every read through it fails.
    const Status& status() const { return status_; }

  private:
    const std::shared_ptr<Impl> impl_;
    const std::string z_, h_;
    const Status status_;
};

const RedisSnapshot* as_redis(const Snapshot* s) {
    if (s == nullptr) return nullptr;
    auto* r = dynamic_cast<const RedisSnapshot*>(s);
    CLEAVE_ASSERT(r != nullptr, "snapshot from another engine kind given to the redis engine");
    return r;
}

class RedisIterator final : public Iterator {
  public:
    RedisIterator(std::shared_ptr<Impl> impl, const IterOptions& o)
        : impl_(std::move(impl)),
          lower_(o.lower_bound),
          max_(o.upper_bound ? "(" + *o.upper_bound : std::string("+")) {
        if (auto* s = as_redis(o.snapshot)) {
            z_ = s->z();
            h_ = s->h();
            status_ = s->status();
        } else {
            z_ = impl_->zkey;
            h_ = impl_->hkey;
        }
    }

    void seek_to_first() override { seek(lower_); }
    void seek(std::string_view target) override {
        fetch("[" + std::string(target < lower_ ? std::string_view(lower_) : target));
    }
    bool valid() const override { return pos_ < page_.size(); }
    void next() override {
        CLEAVE_ASSERT(valid(), "next() on an invalid iterator");
        if (++pos_ < page_.size() || last_page_) return;
        fetch("(" + page_.back().first);
    }
    std::string_view key() const override {
        CLEAVE_ASSERT(valid(), "key() on an invalid iterator");
        return page_[pos_].first;
    }
    std::string_view value() const override {
        CLEAVE_ASSERT(valid(), "value() on an invalid iterator");
        return page_[pos_].second;
    }
    Status status() const override { return status_; }

  private:
    void fetch(const std::string& min) {
        page_.clear();
        pos_ = 0;
        last_page_ = true;
        if (!status_.is_ok()) return;
        // An inverted or empty range would make ZRANGEBYLEX return nothing
        // anyway; checked here to save a round trip.
        status_ = impl_->page(z_, h_, min, max_, kPageEntries, page_);
        if (!status_.is_ok()) {
            page_.clear();
            return;
        }
        last_page_ = page_.size() < kPageEntries;
    }

    const std::shared_ptr<Impl> impl_;
    const std::string lower_;
    const std::string max_;  // ZRANGEBYLEX max spec
    std::string z_, h_;
    std::vector<std::pair<std::string, std::string>> page_;
    size_t pos_ = 0;
    bool last_page_ = true;
    Status status_;
};

}  // namespace

// ------------------------------------------------------------------ engine --

RedisEngine::RedisEngine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisEngine::~RedisEngine() = default;

Result<std::unique_ptr<RedisEngine>> RedisEngine::open(const RedisOptions& options) {
    CLEAVE_ASSIGN_OR_RETURN(RedisUrl url, parse_redis_url(options.url));
    if (options.timeout_ms <= 0) return Status::invalid_argument("redis timeout must be positive");
    auto impl = std::make_shared<Impl>(options, std::move(url));
    {
        std::lock_guard lock(impl->mu);
        CLEAVE_RETURN_IF_ERROR(impl->connect_locked());
    }
    // Snapshot copies left behind by a crashed process (one engine per prefix,
    // so none of them is in use).
    const std::string pattern = escape_glob(options.key_prefix) + "snap:*";
    std::string cursor = "0";
    size_t removed = 0;
    for (int rounds = 0; rounds < 100000; ++rounds) {
        CLEAVE_ASSIGN_OR_RETURN(Reply r,
                                impl->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            return Status::io_error(impl->where + ": unexpected SCAN reply");
        }
        cursor = std::string(str(r->element[0]));
        for (size_t i = 0; i < r->element[1]->elements; ++i) {
            CLEAVE_RETURN_IF_ERROR(
                impl->command({"UNLINK", str(r->element[1]->element[i])}).status());
            ++removed;
        }
        if (cursor == "0") break;
    }
    if (removed > 0) logger()->info("{}: removed {} stale snapshot keys", impl->where, removed);
    return std::unique_ptr<RedisEngine>(new RedisEngine(std::move(impl)));
}

Result<std::optional<std::string>> RedisEngine::get(std::string_view key,
                                                    const Snapshot* snapshot) {
    if (auto* s = as_redis(snapshot)) {
        CLEAVE_RETURN_IF_ERROR(s->status());
        return impl_->hget(s->h(), key);
    }
    return impl_->hget(impl_->hkey, key);
}

Status RedisEngine::write(const WriteBatch& batch, const WriteOptions& options) {
    CLEAVE_RETURN_IF_ERROR(validate_batch(batch));
    if (batch.empty()) return Status::ok();
    std::vector<std::string_view> argv;
    argv.reserve(batch.ops().size() * 3);
    for (const auto& op : batch.ops()) {
        switch (op.type) {
            case WriteBatch::OpType::put:
                argv.insert(argv.end(), {"p", op.key, op.value});
                break;
            case WriteBatch::OpType::del:
                argv.insert(argv.end(), {"d", op.key});
                break;
            case WriteBatch::OpType::delete_range:
                if (op.key < op.value) argv.insert(argv.end(), {"r", op.key, op.value});
                break;
        }
    }
    if (argv.empty()) return Status::ok();
    auto r = impl_->eval(impl_->write_script, {impl_->zkey, impl_->hkey, impl_->bytes_key}, argv);
    return r.status();
}

std::unique_ptr<Iterator> RedisEngine::iterate(const IterOptions& options) {
    return std::make_unique<RedisIterator>(impl_, options);
}

std::unique_ptr<Snapshot> RedisEngine::snapshot() {
    auto seq = impl_->command({"INCR", impl_->snapseq_key});
    if (!seq.is_ok()) return std::make_unique<RedisSnapshot>(impl_, "", "", seq.status());
    const std::string base = fmt::format("{}snap:{}:", impl_->options.key_prefix, (*seq)->integer);
    std::string z = base + "z", h = base + "h";
    auto r = impl_->eval(impl_->snapshot_script, {impl_->zkey, impl_->hkey, z, h}, {});
    if (!r.is_ok()) {
        // The copy may exist if only the reply was lost; the next open
        // removes it.
        return std::make_unique<RedisSnapshot>(impl_, "", "", r.status());
    }
    return std::make_unique<RedisSnapshot>(impl_, std::move(z), std::move(h), Status::ok());
}

Status RedisEngine::sync() {
    // Every acknowledged write is already fsynced by the server (appendfsync
    // always); this only reports whether the server is there.
    return impl_->command({"PING"}).status();
}

Status RedisEngine::checkpoint(const std::string& dir) {
    auto snap = snapshot();
    CLEAVE_RETURN_IF_ERROR(static_cast<const RedisSnapshot&>(*snap).status());
    IterOptions o;
    o.snapshot = snap.get();
    RedisIterator it(impl_, o);
    return write_dump(it, dir);
}

Result<uint64_t> RedisEngine::approximate_size(std::string_view begin, std::string_view end) {
    if (!(begin < end)) return uint64_t{0};
    // Built by append: GCC 12's -Wrestrict misfires on "[" + std::string(...) at -O3.
    std::string min = "[", max = "(";
    min.append(begin);
    max.append(end);
    CLEAVE_ASSIGN_OR_RETURN(
        Reply r, impl_->eval(impl_->size_script, {impl_->zkey, impl_->bytes_key}, {min, max}));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        return Status::io_error(impl_->where + ": unexpected size reply");
    }
    const long long in_range = r->element[0]->integer, total = r->element[1]->integer,
                    bytes = r->element[2]->integer;
    if (in_range <= 0 || total <= 0 || bytes <= 0) return uint64_t{0};
    return static_cast<uint64_t>(static_cast<double>(bytes) * static_cast<double>(in_range) /
                                 static_cast<double>(total));
}

Status RedisEngine::restore_checkpoint(const std::string& dir, const RedisOptions& options) {
    CLEAVE_ASSIGN_OR_RETURN(auto engine, open(options));
    CLEAVE_ASSIGN_OR_RETURN(
        Reply n, engine->impl_->command({"EXISTS", engine->impl_->zkey, engine->impl_->hkey}));
    if (n->integer != 0) {
        return Status::already_exists(
            fmt::format("redis prefix '{}' already holds data", options.key_prefix));
    }
    Status s = load_dump(dir, *engine);
    if (!s.is_ok()) {
        engine->impl_
            ->command({"DEL", engine->impl_->zkey, engine->impl_->hkey, engine->impl_->bytes_key})
            .status()
            .ignore();
    }
    return s;
}

}  // namespace cleave::storage
