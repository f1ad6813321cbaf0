#include "common/random.h"

#include <gtest/gtest.h>

namespace cleave {
namespace {

TEST(Random, SameSeedSameSequence) {
    Random a(42), b(42), c(43);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        uint64_t x = a.next_u64();
        EXPECT_EQ(x, b.next_u64());
        differs |= x != c.next_u64();
    }
    EXPECT_TRUE(differs);
}

TEST(Random, UniformStaysInBounds) {
    Random r(7);
    for (int i = 0; i < 10000; ++i) {
        EXPECT_LT(r.uniform(13), 13u);
        int64_t v = r.range(-3, 3);
        EXPECT_GE(v, -3);
        EXPECT_LE(v, 3);
    }
}

TEST(Random, OsRandomBytesLength) { EXPECT_EQ(os_random_bytes(20).size(), 20u); }

}  // namespace
}  // namespace cleave
