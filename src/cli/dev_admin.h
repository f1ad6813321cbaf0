#pragma once
// The admin requests of a one-node store (`cleave dev`), under
// /_cleave/admin/ like a cluster node's (`cleave admin`):
//   GET  shards                     every shard: range, epoch, size (JSON)
//   POST split?shard=N[&key=HEX]    split shard N (at KEY, a placement key in
//                                   hex, or where it halves the shard's data)

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "service/local_shards.h"

namespace cleave::cli {

Result<std::string> dev_admin(service::LocalShards& shards, const std::string& method,
                              const std::string& path,
                              const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace cleave::cli
