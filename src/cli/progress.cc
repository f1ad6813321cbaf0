#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/clock.h"

namespace cleave::cli {

Progress::Progress(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled && total_bytes >= kMinBytes && ::isatty(STDERR_FILENO) == 1),
      start_ms_(SystemClock::instance().monotonic_ms()) {}

void Progress::update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    int64_t now = SystemClock::instance().monotonic_ms();
    if (drawn_ && now - last_draw_ms_ < 100 && done < total) return;
    last_draw_ms_ = now;
    draw(done, total);
}

void Progress::draw(uint64_t done, uint64_t total) {
    constexpr int kWidth = 30;
    double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    int filled = static_cast<int>(fraction * kWidth);
    double seconds =
        static_cast<double>(SystemClock::instance().monotonic_ms() - start_ms_) / 1000.0;
    double mib_s = seconds > 0 ? static_cast<double>(done) / (1 << 20) / seconds : 0;
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %8.1f MiB %7.1f MiB/s", label_.c_str(), filled,
                 "##############################", kWidth - filled, "",
                 static_cast<int>(fraction * 100), static_cast<double>(done) / (1 << 20), mib_s);
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\n");
}

}  // namespace cleave::cli
