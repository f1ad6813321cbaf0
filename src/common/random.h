#pragma once
// A seeded, replayable random source (STYLE.md, convention 3). Pure code takes
// a Random&; nothing in Cleave uses a global or unseeded engine.
// splitmix64 seeding + xoshiro256** generation: small, fast, and identical on
// every platform (std::uniform_int_distribution is not).

#include <cstdint>
#include <string>

namespace cleave {

class Random {
  public:
    explicit Random(uint64_t seed) { reseed(seed); }

    void reseed(uint64_t seed) {
        uint64_t x = seed;
        for (auto& s : s_) {
            x += 0x9e3779b97f4a7c15ULL;
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            s = z ^ (z >> 31);
        }
    }

    uint64_t next_u64() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, bound); bound > 0. Lemire's multiply-shift, bias-free
    // enough for simulation (bound << 2^64).
    uint64_t uniform(uint64_t bound) {
        // __extension__: __int128 is a GCC/Clang extension that -Wpedantic flags.
        return __extension__ static_cast<uint64_t>(
            (static_cast<unsigned __int128>(next_u64()) * bound) >> 64);
    }
    // Uniform in [lo, hi].
    int64_t range(int64_t lo, int64_t hi) {
        return lo + static_cast<int64_t>(uniform(static_cast<uint64_t>(hi - lo) + 1));
    }
    // True with probability num/den.
    bool chance(uint64_t num, uint64_t den) { return uniform(den) < num; }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

// Random bytes from the OS, for credentials and upload ids (not for tests).
std::string os_random_bytes(size_t n);

}  // namespace cleave
