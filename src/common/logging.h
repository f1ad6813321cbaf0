#pragma once
// One logger per module (STYLE.md, convention 9), on spdlog. Lines carry the
// node and shard ids where a module has them; the pure cores (raft, placement)
// take a logger object and never reach for a global.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace cleave {

// Returns the named module logger, creating it (stderr, shared level) once.
std::shared_ptr<spdlog::logger> module_logger(const std::string& module);

// Sets the level of every module logger: "trace" … "off".
void set_log_level(const std::string& level);

}  // namespace cleave
