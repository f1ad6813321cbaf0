#include "common/status.h"

#include <gtest/gtest.h>

namespace cleave {
namespace {

Result<int> half(int x) {
    if (x % 2) return Status::invalid_argument("odd");
    return x / 2;
}

Status quarter(int x, int* out) {
    CLEAVE_ASSIGN_OR_RETURN(int h, half(x));
    CLEAVE_ASSIGN_OR_RETURN(int q, half(h));
    *out = q;
    return Status::ok();
}

TEST(Status, OkAndErrors) {
    EXPECT_TRUE(Status::ok().is_ok());
    Status s = Status::not_found("key k");
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), Errc::not_found);
    EXPECT_EQ(s.to_string(), "not_found: key k");
}

TEST(Status, ResultPropagates) {
    int q = 0;
    EXPECT_TRUE(quarter(8, &q).is_ok());
    EXPECT_EQ(q, 2);
    Status s = quarter(6, &q);
    EXPECT_EQ(s.code(), Errc::invalid_argument);
}

TEST(StatusDeathTest, ValueOfErrorAborts) {
    Result<int> r = Status::internal("x");
    EXPECT_DEATH((void)r.value(), "value\\(\\) of failed Result");
}

}  // namespace
}  // namespace cleave
