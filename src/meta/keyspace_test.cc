#include "meta/keyspace.h"

#include <gtest/gtest.h>

namespace cleave::meta {
namespace {

TEST(Keyspace, RootOf) {
    EXPECT_EQ(root_of("a/b/c"), "a/");
    EXPECT_EQ(root_of("abc"), "");
    EXPECT_EQ(root_of("/x"), "/");
    EXPECT_EQ(root_of("a//b"), "a/");
}

TEST(Keyspace, SameRootSharesHashPrefix) {
    std::string a = placement_key("b", "photos/1.jpg");
    std::string c = placement_key("b", "photos/2/3.jpg");
    EXPECT_EQ(a.substr(0, 8), c.substr(0, 8));
    EXPECT_LT(a, c);
    EXPECT_NE(placement_key("b", "docs/1").substr(0, 8), a.substr(0, 8));
    // Different buckets, same root: different hashes.
    EXPECT_NE(placement_key("b2", "photos/1.jpg").substr(0, 8), a.substr(0, 8));
}

TEST(Keyspace, DirectoryRangeContainsExactlyItsKeys) {
    std::string begin = directory_begin("bkt", "a/");
    std::string end = directory_end("bkt", "a/");
    for (std::string k : {"a/", "a/x", "a/\xff\xff", "a//"}) {
        std::string pk = placement_key("bkt", k);
        EXPECT_LE(begin, pk) << k;
        EXPECT_LT(pk, end) << k;
        EXPECT_EQ(key_of(pk, "bkt"), k);
    }
}

TEST(Keyspace, BucketRootRangeExcludesMarkers) {
    std::string begin = directory_begin("bkt", "");
    std::string end = directory_end("bkt", "");
    std::string pk = placement_key("bkt", "\xff\xff");
    EXPECT_LE(begin, pk);
    EXPECT_LT(pk, end);
    std::string marker = dir_marker_key("bkt", "a/");
    EXPECT_GE(marker, end);
    EXPECT_LE(dir_markers_begin("bkt"), marker);
    EXPECT_LT(marker, dir_markers_end("bkt"));
    EXPECT_EQ(root_of_marker(marker, "bkt"), "a/");
}

TEST(Keyspace, PrefixSuccessor) {
    EXPECT_EQ(prefix_successor("ab"), "ac");
    EXPECT_EQ(prefix_successor(std::string("a\xff", 2)), "b");
    EXPECT_EQ(prefix_successor("\xff"), "");
}

}  // namespace
}  // namespace cleave::meta
