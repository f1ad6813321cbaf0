#pragma once
// A one-line progress bar on standard error for transfers over a few MiB,
// drawn only when standard error is a terminal (so scripts and logs stay
// clean) and at most ten times a second.

#include <cstdint>
#include <string>

namespace cleave::cli {

class Progress {
  public:
    static constexpr uint64_t kMinBytes = 4ULL << 20;

    Progress(std::string label, uint64_t total_bytes, bool enabled);
    void update(uint64_t done_bytes, uint64_t total_bytes);
    void finish();

  private:
    void draw(uint64_t done, uint64_t total);

    const std::string label_;
    bool enabled_;
    int64_t start_ms_;
    int64_t last_draw_ms_ = 0;
    bool drawn_ = false;
};

}  // namespace cleave::cli
