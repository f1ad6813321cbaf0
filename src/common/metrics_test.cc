#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace cleave::metrics {
namespace {

TEST(Metrics, CountersAreSharedByNameAndRendered) {
    Counter& a = counter("cleave_test_things_total", "Things counted by the test");
    Counter& b = counter("cleave_test_things_total", "ignored help");
    EXPECT_EQ(&a, &b);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) a.add();
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(b.value(), 4000u);
    gauge("cleave_test_level", "A level").set(-3);
    std::string text = render_prometheus();
    EXPECT_NE(text.find("# TYPE cleave_test_things_total counter\ncleave_test_things_total 4000\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("# HELP cleave_test_things_total Things counted by the test\n"),
              std::string::npos);
    EXPECT_NE(text.find("cleave_test_level -3\n"), std::string::npos);
}

TEST(MetricsDeathTest, BadNamesAndKindClashesAbort) {
    EXPECT_DEATH(counter("bad name", ""), "bad metric name");
    counter("cleave_test_clash", "");
    EXPECT_DEATH(gauge("cleave_test_clash", ""), "is a counter");
}

}  // namespace
}  // namespace cleave::metrics
