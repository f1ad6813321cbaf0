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

TEST(NetAddress, SeedsKeepTheirOrder) {
    auto r = resolve_seeds("127.0.0.3:7001,127.0.0.1:7001,localhost:7002");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].host, "127.0.0.3");
    EXPECT_EQ((*r)[1].host, "127.0.0.1");
    EXPECT_EQ((*r)[2].host, "127.0.0.1");
    EXPECT_EQ((*r)[2].port, 7002);
}

TEST(NetAddress, SeedsRejectDuplicatesAndGarbage) {
    EXPECT_EQ(resolve_seeds("127.0.0.1:7001,127.0.0.1:7001").status().code(),
              Errc::invalid_argument);
    EXPECT_EQ(resolve_seeds("").status().code(), Errc::invalid_argument);
    EXPECT_EQ(resolve_seeds("no-such-host.invalid:7001").status().code(), Errc::invalid_argument);
    EXPECT_EQ(resolve_seeds("127.0.0.1").status().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace cleave::cli
