#include "common/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace cleave {

namespace {
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
spdlog::level::level_enum& current_level() {
    static spdlog::level::level_enum l = spdlog::level::info;
    return l;
}
}  // namespace

std::shared_ptr<spdlog::logger> module_logger(const std::string& module) {
    std::lock_guard lock(registry_mutex());
    if (auto existing = spdlog::get(module)) return existing;
    auto logger = spdlog::stderr_color_mt(module);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    logger->set_level(current_level());
    return logger;
}

void set_log_level(const std::string& level) {
    std::lock_guard lock(registry_mutex());
    current_level() = spdlog::level::from_str(level);
    spdlog::apply_all(
        [](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current_level()); });
}

}  // namespace cleave
