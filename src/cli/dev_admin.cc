#include "cli/dev_admin.h"

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::cli {

namespace {

std::string shard_json(const shard::ShardDescriptor& d, uint64_t size, uint64_t applied) {
    // A one-node store: every shard's one replica, and leader, is node 1.
    return fmt::format(
        "{{\"id\":{},\"start\":\"{}\",\"end\":\"{}\",\"epoch\":{},\"replicas\":[1],"
        "\"leader\":1,\"size\":{},\"size_bytes\":{},\"applied\":{}}}",
        d.id(), to_hex(d.start()), to_hex(d.end()), d.epoch(), size, size, applied);
}

const std::string* param(const std::vector<std::pair<std::string, std::string>>& query,
                         const std::string& name) {
    for (const auto& [k, v] : query)
        if (k == name) return &v;
    return nullptr;
}

}  // namespace

Result<std::string> dev_admin(service::LocalShards& shards, const std::string& method,
                              const std::string& path,
                              const std::vector<std::pair<std::string, std::string>>& query) {
    if (method == "GET" && path == "shards") {
        CLEAVE_ASSIGN_OR_RETURN(auto all, shards.describe());
        std::string out = "{\"shards\":[";
        for (size_t i = 0; i < all.size(); ++i)
            out +=
                (i ? "," : "") + shard_json(all[i].range, all[i].size_bytes, all[i].applied_index);
        return out + "]}\n";
    }
    if (method == "POST" && path == "split") {
        const std::string* id = param(query, "shard");
        char* end = nullptr;
        const uint64_t shard = id ? std::strtoull(id->c_str(), &end, 10) : 0;
        if (!id || id->empty() || *end != '\0' || shard == 0)
            return Status::invalid_argument("split needs shard=N (a shard id)");
        std::optional<std::string> key;
        if (const std::string* hex = param(query, "key"); hex && !hex->empty()) {
            std::string raw;
            if (!from_hex(*hex, &raw))
                return Status::invalid_argument("key must be a placement key in hex");
            key = std::move(raw);
        }
        CLEAVE_ASSIGN_OR_RETURN(auto child, shards.split(shard, std::move(key)));
        return fmt::format("{{\"split\":{},\"new\":{}}}\n", shard, shard_json(child, 0, 0));
    }
    return Status::not_found(
        fmt::format("no admin request {} {} on a one-node store", method, path));
}

}  // namespace cleave::cli
