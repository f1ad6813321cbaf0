#pragma once
// Always-on assertions (STYLE.md, convention 2; TigerBeetle, Redpanda's
// vassert). A failed assertion logs file, line, condition and a message to
// stderr and aborts: a broken invariant must never turn into corrupted data.
// CLEAVE_EXPENSIVE_ASSERT is compiled in only with CLEAVE_EXPENSIVE_CHECKS.

#include <fmt/format.h>

namespace cleave::detail {
[[noreturn]] void assert_fail(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace cleave::detail

#define CLEAVE_ASSERT(cond, ...)                                                                  \
    do {                                                                                          \
        if (!(cond)) [[unlikely]] {                                                               \
            ::cleave::detail::assert_fail(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
        }                                                                                         \
    } while (0)

#if defined(CLEAVE_EXPENSIVE_CHECKS)
#define CLEAVE_EXPENSIVE_ASSERT(cond, ...) CLEAVE_ASSERT(cond, __VA_ARGS__)
#else
#define CLEAVE_EXPENSIVE_ASSERT(cond, ...) \
    do {                                   \
    } while (0)
#endif
