// Runs every script in src/sim/testdata and compares its trace with the
// expected one. CLEAVE_REWRITE=1 rewrites the files with the actual output:
// only do that for a change you understand, and review the diff.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/interaction.h"

namespace cleave::sim {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> scripts() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(CLEAVE_SIM_TESTDATA_DIR))
        if (e.path().extension() == ".txt") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(Interaction, ScriptsProduceTheirExpectedTraces) {
    const bool rewrite =
        std::getenv("CLEAVE_REWRITE") && std::string(std::getenv("CLEAVE_REWRITE")) == "1";
    auto files = scripts();
    ASSERT_GE(files.size(), 4u) << "missing scripts in " << CLEAVE_SIM_TESTDATA_DIR;
    for (const auto& f : files) {
        SCOPED_TRACE(f.string());
        const std::string script = read_file(f);
        const std::string actual = run_interaction(script);
        if (rewrite) {
            std::ofstream(f) << actual;
            continue;
        }
        EXPECT_EQ(script, actual) << "rerun with CLEAVE_REWRITE=1 to accept the new trace";
        EXPECT_EQ(actual.find("VIOLATION"), std::string::npos);
        EXPECT_EQ(actual.find("error: bad step"), std::string::npos);
    }
}

TEST(Interaction, RunIsDeterministic) {
    for (const auto& f : scripts()) {
        const std::string script = read_file(f);
        EXPECT_EQ(run_interaction(script), run_interaction(script)) << f;
    }
}

}  // namespace
}  // namespace cleave::sim
