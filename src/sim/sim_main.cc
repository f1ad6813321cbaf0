// cleave-sim: runs randomized simulation seeds against the Raft core.
//
//   cleave-sim --seeds N --start S      run seeds S .. S+N-1, stop at the first failure
//   cleave-sim --start S --seeds 1 --trace   replay one seed, printing its trace
//   cleave-sim ... --keep-going          run every seed, report all failures
//   cleave-sim ... --planted-bug K      select a planted bug (CLEAVE_PLANT_RAFT_BUGS builds)
//
// Exit status: 0 when every seed passed, 1 on a violation, 2 on bad usage.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/random_sim.h"

namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: cleave-sim [--seeds N] [--start S] [--trace] [--verbose] "
                 "[--planted-bug K] [--fault-ticks T] [--keep-going]\n");
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t seeds = 100, start = 1;
    bool trace = false, verbose = false, keep_going = false;
    uint64_t failures = 0;
    cleave::sim::SimParams params;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> uint64_t {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return std::strtoull(argv[++i], nullptr, 10);
        };
        if (a == "--seeds") {
            seeds = value();
        } else if (a == "--start") {
            start = value();
        } else if (a == "--trace") {
            trace = true;
        } else if (a == "--keep-going") {
            keep_going = true;
        } else if (a == "--verbose") {
            verbose = true;
        } else if (a == "--planted-bug") {
            params.planted_bug = static_cast<int>(value());
        } else if (a == "--fault-ticks") {
            params.fault_ticks = static_cast<uint32_t>(value());
        } else {
            usage();
            return 2;
        }
    }
#ifndef CLEAVE_PLANT_RAFT_BUGS
    if (params.planted_bug != 0) {
        std::fprintf(stderr, "cleave-sim: planted bugs need a -DCLEAVE_PLANT_RAFT_BUGS=ON build\n");
        return 2;
    }
#endif
    for (uint64_t seed = start; seed < start + seeds; ++seed) {
        std::string out;
        auto r = cleave::sim::run_seed(seed, params, trace ? &out : nullptr);
        if (trace) std::fwrite(out.data(), 1, out.size(), stdout);
        if (verbose)
            std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed),
                        r.summary.c_str());
        if (!r.ok) {
            std::printf("FAILED seed %llu: %s\n  %s\nreplay: %s\n",
                        static_cast<unsigned long long>(seed), r.failure.c_str(), r.summary.c_str(),
                        cleave::sim::replay_command(seed, params).c_str());
            ++failures;
            if (!keep_going) return 1;
        }
    }
    if (failures) {
        std::printf("cleave-sim: %llu of %llu seeds failed\n",
                    static_cast<unsigned long long>(failures),
                    static_cast<unsigned long long>(seeds));
        return 1;
    }
    std::printf("cleave-sim: %llu seeds from %llu passed\n", static_cast<unsigned long long>(seeds),
                static_cast<unsigned long long>(start));
    return 0;
}
