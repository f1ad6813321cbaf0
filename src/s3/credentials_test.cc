#include "s3/credentials.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace cleave::s3 {
namespace {

TEST(CredentialsTest, ParsesTheFileFormat) {
    auto p = StaticCredentialProvider::parse(
        "# comment\n\n  AKIAONE   secret-one-12345  \nAKIATWO\tsecret/two+xyz\r\n");
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_EQ(p->size(), 2u);
    EXPECT_EQ(p->secret_for("AKIAONE").value(), "secret-one-12345");
    EXPECT_EQ(p->secret_for("AKIATWO").value(), "secret/two+xyz");
    EXPECT_FALSE(p->secret_for("AKIATHREE").has_value());
}

TEST(CredentialsTest, RejectsMalformedLines) {
    EXPECT_EQ(StaticCredentialProvider::parse("onlykey\n").status().code(), Errc::invalid_argument);
    EXPECT_EQ(StaticCredentialProvider::parse("AK secretsecret extra\n").status().code(),
              Errc::invalid_argument);
    EXPECT_EQ(StaticCredentialProvider::parse("AK short\n").status().code(),
              Errc::invalid_argument);
    EXPECT_EQ(StaticCredentialProvider::parse("A!K secretsecret\n").status().code(),
              Errc::invalid_argument);
    EXPECT_EQ(
        StaticCredentialProvider::parse("AKA secretsecret\nAKA othersecret\n").status().code(),
        Errc::already_exists);
}

TEST(CredentialsTest, LoadsFilesAndRoundTripsTheFormat) {
    std::string path = ::testing::TempDir() + "/cleave_credentials_test.txt";
    {
        std::ofstream out(path);
        out << format_credentials_line("AKIAFILE", "file-secret-123");
    }
    auto p = StaticCredentialProvider::load_file(path);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_EQ(p->secret_for("AKIAFILE").value(), "file-secret-123");
    std::remove(path.c_str());
    EXPECT_EQ(StaticCredentialProvider::load_file(path).status().code(), Errc::not_found);
}

TEST(CredentialsTest, ReadsTheEnvironment) {
    ::unsetenv("CLEAVE_ACCESS_KEY");
    ::unsetenv("CLEAVE_SECRET_KEY");
    EXPECT_EQ(StaticCredentialProvider::from_env().status().code(), Errc::not_found);
    ::setenv("CLEAVE_ACCESS_KEY", "AKIAENV", 1);
    EXPECT_EQ(StaticCredentialProvider::from_env().status().code(), Errc::not_found);
    ::setenv("CLEAVE_SECRET_KEY", "env-secret-123", 1);
    auto p = StaticCredentialProvider::from_env();
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_EQ(p->secret_for("AKIAENV").value(), "env-secret-123");
    ::unsetenv("CLEAVE_ACCESS_KEY");
    ::unsetenv("CLEAVE_SECRET_KEY");
}

}  // namespace
}  // namespace cleave::s3
