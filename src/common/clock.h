#pragma once
// Time sits behind an interface (STYLE.md, convention 3) so that the state
// machine and the pure cores never read a clock: the host reads it and puts
// the time inside commands.

#include <chrono>
#include <cstdint>

namespace cleave {

class Clock {
  public:
    virtual ~Clock() = default;
    // Wall-clock time in milliseconds since the Unix epoch.
    virtual int64_t now_unix_ms() const = 0;
    // Monotonic time in milliseconds; only differences are meaningful.
    virtual int64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
  public:
    int64_t now_unix_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    int64_t monotonic_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    static SystemClock& instance() {
        static SystemClock c;
        return c;
    }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
    int64_t now_unix_ms() const override { return now_ms_; }
    int64_t monotonic_ms() const override { return now_ms_; }
    void advance_ms(int64_t d) { now_ms_ += d; }
    void set_ms(int64_t t) { now_ms_ = t; }

  private:
    int64_t now_ms_;
};

}  // namespace cleave
