#include "common/hash.h"

#include <gtest/gtest.h>

namespace cleave {
namespace {

TEST(Hash, Sha256KnownAnswer) {
    EXPECT_EQ(to_hex(sha256("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, Md5KnownAnswer) {
    EXPECT_EQ(to_hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(to_hex(md5("hello")), "5d41402abc4b2a76b9719d911017c592");
}

TEST(Hash, IncrementalEqualsOneShot) {
    Hasher h(Hasher::Kind::sha256);
    h.update("ab");
    h.update("c");
    EXPECT_EQ(h.finish(), sha256("abc"));
    // The hasher is reusable after finish.
    h.update("");
    EXPECT_EQ(h.finish(), sha256(""));
}

TEST(Hash, HmacKnownAnswer) {
    // RFC 4231 test case 2.
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hash, HexRoundTripAndRejects) {
    std::string raw;
    ASSERT_TRUE(from_hex("00ff10Ab", &raw));
    EXPECT_EQ(raw, std::string("\x00\xff\x10\xab", 4));
    EXPECT_EQ(to_hex(raw), "00ff10ab");
    EXPECT_FALSE(from_hex("abc", &raw));
    EXPECT_FALSE(from_hex("zz", &raw));
}

TEST(Hash, Base64RoundTrip) {
    for (std::string s : {"", "a", "ab", "abc", "abcd", "\x01\x02\xff"}) {
        std::string back;
        ASSERT_TRUE(base64_decode(base64_encode(s), &back)) << s;
        EXPECT_EQ(back, s);
    }
    EXPECT_EQ(base64_encode(md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
    std::string out;
    EXPECT_FALSE(base64_decode("abc", &out));
}

TEST(Hash, Crc32cKnownAnswer) {
    // CRC-32C of "123456789" is 0xE3069283.
    EXPECT_EQ(crc32c("123456789") ^ 0xFFFFFFFFu, 0xE3069283u);
    EXPECT_EQ(crc32c_extend(crc32c("1234"), "56789"), crc32c("123456789"));
    EXPECT_EQ(crc32c_extend(crc32c(""), "123456789"), crc32c("123456789"));
    EXPECT_NE(crc32c_extend(crc32c("1234"), "56780"), crc32c("123456789"));
}

}  // namespace
}  // namespace cleave
