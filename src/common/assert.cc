#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace cleave::detail {

void assert_fail(const char* file, int line, const char* cond, const std::string& msg) {
    std::fprintf(stderr, "CLEAVE_ASSERT failed at %s:%d: (%s) %s\n", file, line, cond, msg.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace cleave::detail
