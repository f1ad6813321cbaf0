#include "cli/net_address.h"

#include <gtest/gtest.h>

namespace cleave::cli {
namespace {

TEST(NetAddress, ParsesHostAndPort) {
    auto a = parse_host_port("127.0.0.1:9000");
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 9000);
    auto b = parse_host_port("[::1]:0");
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 0);
}

TEST(NetAddress, RejectsBadInputWithAClearMessage) {
    for (const char* bad : {"", "9000", ":9000", "host:", "host:port", "host:70000", "host:-1"}) {
        auto r = parse_host_port(bad);
        EXPECT_FALSE(r.is_ok()) << bad;
        EXPECT_EQ(r.status().code(), Errc::invalid_argument) << bad;
        EXPECT_FALSE(r.status().message().empty());
    }
}

}  // namespace
}  // namespace cleave::cli
