#include "common/metrics.h"

#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "common/assert.h"

namespace cleave::metrics {

namespace {

struct Entry {
    std::string help;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
};

struct Registry {
    std::mutex mu;
    std::map<std::string, Entry, std::less<>> entries;  // guarded by mu
};

Registry& registry() {
    static Registry r;  // never destroyed before the metrics that use it
    return r;
}

bool valid_name(std::string_view n) {
    if (n.empty()) return false;
    for (size_t i = 0; i < n.size(); ++i) {
        char c = n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

Entry& entry(std::string_view name, std::string_view help) {
    CLEAVE_ASSERT(valid_name(name), "bad metric name '{}'", name);
    auto& r = registry();
    std::lock_guard lock(r.mu);
    auto it = r.entries.find(name);
    if (it == r.entries.end()) {
        it = r.entries.emplace(std::string(name), Entry{std::string(help), nullptr, nullptr}).first;
    }
    return it->second;
}

}  // namespace

Counter& counter(std::string_view name, std::string_view help) {
    Entry& e = entry(name, help);
    std::lock_guard lock(registry().mu);
    CLEAVE_ASSERT(!e.gauge, "metric '{}' is a gauge", name);
    if (!e.counter) e.counter = std::make_unique<Counter>();
    return *e.counter;
}

Gauge& gauge(std::string_view name, std::string_view help) {
    Entry& e = entry(name, help);
    std::lock_guard lock(registry().mu);
    CLEAVE_ASSERT(!e.counter, "metric '{}' is a counter", name);
    if (!e.gauge) e.gauge = std::make_unique<Gauge>();
    return *e.gauge;
}

std::string render_prometheus() {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    std::string out;
    for (const auto& [name, e] : r.entries) {
        if (e.counter) {
            out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, e.help, name, name,
                               e.counter->value());
        } else if (e.gauge) {
            out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, e.help, name, name,
                               e.gauge->value());
        }
    }
    return out;
}

}  // namespace cleave::metrics
