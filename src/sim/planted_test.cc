// The simulator is proven able to fail: in a build configured with
// -DCLEAVE_PLANT_RAFT_BUGS=ON, each planted Raft bug must be caught within
// its seed budget (and the unbugged core must pass the same seeds).

#include <gtest/gtest.h>

#include <cstdio>

#include "raft/options.h"
#include "sim/random_sim.h"

namespace cleave::sim {
namespace {

#ifndef CLEAVE_PLANT_RAFT_BUGS
#error "planted_test.cc is built only with CLEAVE_PLANT_RAFT_BUGS"
#endif

// Returns the first failing seed in [1, budget], or 0.
uint64_t first_failing_seed(raft::PlantedBug bug, uint64_t budget, std::string* failure) {
    SimParams params;
    params.planted_bug = static_cast<int>(bug);
    for (uint64_t seed = 1; seed <= budget; ++seed) {
        SeedResult r = run_seed(seed, params);
        if (!r.ok) {
            *failure = r.failure;
            std::printf("planted bug %d found by seed %llu: %s\n  replay: %s\n",
                        params.planted_bug, static_cast<unsigned long long>(seed),
                        r.failure.c_str(), replay_command(seed, params).c_str());
            return seed;
        }
    }
    return 0;
}

constexpr uint64_t kBudget = 500;

TEST(PlantedBugs, CommitPreviousTermByCountingReplicasIsFound) {
    std::string failure;
    EXPECT_NE(first_failing_seed(raft::PlantedBug::commit_previous_term, kBudget, &failure), 0u)
        << "the simulator missed planted bug 1 within " << kBudget << " seeds";
}

TEST(PlantedBugs, FollowerLocalReadIsFound) {
    std::string failure;
    EXPECT_NE(first_failing_seed(raft::PlantedBug::follower_local_read, kBudget, &failure), 0u)
        << "the simulator missed planted bug 2 within " << kBudget << " seeds";
    EXPECT_NE(failure.find("linearizability"), std::string::npos) << failure;
}

TEST(PlantedBugs, DoubleVoteIsFound) {
    std::string failure;
    EXPECT_NE(first_failing_seed(raft::PlantedBug::double_vote, kBudget, &failure), 0u)
        << "the simulator missed planted bug 3 within " << kBudget << " seeds";
}

TEST(PlantedBugs, NoBugPassesTheSameSeeds) {
    std::string failure;
    EXPECT_EQ(first_failing_seed(raft::PlantedBug::none, 50, &failure), 0u) << failure;
}

}  // namespace
}  // namespace cleave::sim
