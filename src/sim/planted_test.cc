// The simulator is proven able to fail: in a build configured with
// -DCLEAVE_PLANT_RAFT_BUGS=ON, each planted Raft bug must be caught within
// its seed budget (and the unbugged core must pass the same seeds).

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "raft/options.h"
#include "sim/interaction.h"
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
            std::printf("planted bug %d found by seed %llu: %s\n  replay: %s\n", params.planted_bug,
                        static_cast<unsigned long long>(seed), r.failure.c_str(),
                        replay_command(seed, params).c_str());
            return seed;
        }
    }
    return 0;
}

constexpr uint64_t kBudget = 500;
// Bug 1 needs a Figure 8 history, which random faults produce about once in
// a hundred seeds; give it a larger budget.
constexpr uint64_t kBudgetFigure8 = 3000;

TEST(PlantedBugs, CommitPreviousTermByCountingReplicasIsFound) {
    std::string failure;
    EXPECT_NE(first_failing_seed(raft::PlantedBug::commit_previous_term, kBudgetFigure8, &failure),
              0u)
        << "the simulator missed planted bug 1 within " << kBudgetFigure8 << " seeds";
}

TEST(PlantedBugs, Figure8ScriptCatchesBug1) {
    // The same Figure 8 script that passes with the real core must report a
    // leader completeness violation with bug 1 planted.
    std::ifstream in(std::string(CLEAVE_SIM_TESTDATA_DIR) + "/figure8.txt");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string script = ss.str();
    const std::string cluster_line = "> cluster voters=1,2,3,4,5";
    const size_t at = script.find(cluster_line);
    ASSERT_NE(at, std::string::npos);
    script.insert(at + cluster_line.size(), " bug=1");
    const std::string out = run_interaction(script);
    EXPECT_NE(out.find("VIOLATION: leader completeness"), std::string::npos) << out;
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
