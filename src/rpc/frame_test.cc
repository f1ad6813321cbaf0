#include "rpc/frame.h"

#include <gtest/gtest.h>

#include <iostream>

#include "common/random.h"

namespace cleave::rpc {
namespace {

TEST(Frame, RoundTripAcrossArbitraryFeedBoundaries) {
    uint64_t seed = 20261126;
    std::cout << "seed " << seed << "\n";
    Random rng(seed);
    std::vector<Frame> sent;
    std::string wire;
    for (int i = 0; i < 50; ++i) {
        Frame f{FrameKind::request, static_cast<uint32_t>(i), std::string(rng.uniform(3000), 'x')};
        for (auto& c : f.body) c = static_cast<char>(rng.next_u64());
        encode_frame(f, wire);
        sent.push_back(std::move(f));
    }
    FrameDecoder d;
    std::vector<Frame> got;
    size_t pos = 0;
    while (pos < wire.size()) {
        size_t n = std::min<size_t>(wire.size() - pos, rng.range(1, 700));
        d.feed(std::string_view(wire).substr(pos, n));
        pos += n;
        while (true) {
            auto r = d.next();
            ASSERT_TRUE(r.is_ok()) << r.status().to_string();
            if (!r->has_value()) break;
            got.push_back(std::move(**r));
        }
    }
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].request_id, sent[i].request_id);
        EXPECT_EQ(got[i].body, sent[i].body);
        EXPECT_EQ(got[i].kind, FrameKind::request);
    }
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(Frame, CorruptionAndOversizeAreDetected) {
    std::string wire;
    encode_frame(Frame{FrameKind::one_way, 7, "payload"}, wire);
    std::string flipped = wire;
    flipped.back() ^= 1;
    FrameDecoder a;
    a.feed(flipped);
    EXPECT_EQ(a.next().status().code(), Errc::corruption);
    // Stays failed.
    a.feed(wire);
    EXPECT_FALSE(a.next().is_ok());

    FrameDecoder small(4);
    small.feed(wire);
    EXPECT_EQ(small.next().status().code(), Errc::corruption);

    FrameDecoder magic;
    magic.feed(std::string(16, 'Z'));
    EXPECT_EQ(magic.next().status().code(), Errc::corruption);
}

}  // namespace
}  // namespace cleave::rpc
