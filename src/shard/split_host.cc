#include "shard/split_host.h"

#include <filesystem>

#include <fmt/format.h>

namespace cleave::shard {

Result<std::unique_ptr<storage::Engine>> copy_engine(storage::Engine& parent,
                                                     const std::string& remove,
                                                     const std::string& dir,
                                                     storage::EngineOptions options) {
    std::error_code ec;
    std::filesystem::remove_all(remove, ec);
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (ec) return Status::io_error(fmt::format("create {}: {}", dir, ec.message()));
    CLEAVE_RETURN_IF_ERROR(parent.checkpoint(dir));
    options.path = dir;
    return storage::open_engine(options);
}

}  // namespace cleave::shard
