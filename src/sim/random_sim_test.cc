// The randomized simulation: thousands of seeds, zero violations. The count
// comes from CLEAVE_SIM_SEEDS (default 2000; the sanitizer build lowers it).
// A failure prints the seed and the command that replays it.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "sim/random_sim.h"

namespace cleave::sim {
namespace {

uint64_t seed_count() {
    const char* env = std::getenv("CLEAVE_SIM_SEEDS");
    if (env && *env) return std::strtoull(env, nullptr, 10);
    return 2000;
}

TEST(RandomSim, SeedsFindNoViolation) {
    const uint64_t n = seed_count();
    SimParams params;
    size_t failures = 0;
    for (uint64_t seed = 1; seed <= n; ++seed) {
        SeedResult r = run_seed(seed, params);
        if (!r.ok) {
            ++failures;
            ADD_FAILURE() << "seed " << seed << ": " << r.failure << "\n  " << r.summary
                          << "\n  replay: " << replay_command(seed, params);
            if (failures >= 3) break;
        }
    }
    std::printf("ran %llu seeds\n", static_cast<unsigned long long>(n));
}

TEST(RandomSim, ReplayIsByteIdentical) {
    for (uint64_t seed : {7ULL, 42ULL, 1234ULL}) {
        std::string a, b;
        SeedResult ra = run_seed(seed, {}, &a);
        SeedResult rb = run_seed(seed, {}, &b);
        EXPECT_EQ(ra.ok, rb.ok);
        EXPECT_GT(a.size(), 1000u) << "the trace should record every event";
        EXPECT_TRUE(a == b) << "seed " << seed << " produced two different traces";
    }
}

TEST(RandomSim, DifferentSeedsDiffer) {
    std::string a, b;
    run_seed(1, {}, &a);
    run_seed(2, {}, &b);
    EXPECT_NE(a, b);
}

TEST(RandomSim, SimulationDoesRealWork) {
    // Guard against a simulator that passes because nothing happens.
    std::string trace;
    size_t leaders = 0, snapshots = 0, crashes = 0, reads = 0, acked = 0, configs = 0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        trace.clear();
        ASSERT_TRUE(run_seed(seed, {}, &trace).ok);
        auto count = [&](const std::string& needle) {
            size_t n = 0;
            for (size_t p = trace.find(needle); p != std::string::npos;
                 p = trace.find(needle, p + 1))
                ++n;
            return n;
        };
        leaders += count(" is leader ");
        snapshots += count("installed snapshot");
        crashes += count(" crashed");
        reads += count(" -> '");
        acked += count("acked write");
        configs += count("change config");
    }
    EXPECT_GT(leaders, 100u);
    EXPECT_GT(snapshots, 20u);
    EXPECT_GT(crashes, 100u);
    EXPECT_GT(reads, 1000u);
    EXPECT_GT(acked, 1000u);
    EXPECT_GT(configs, 40u);
}

}  // namespace
}  // namespace cleave::sim
