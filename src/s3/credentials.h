#pragma once
// Where the S3 layer finds the secret key of an access key (SigV4 needs the
// secret to recompute a signature). Today: a static set, loaded from a file
// or the environment; later the meta shard implements the same interface.
//
// Credentials file format (one pair per line; '#' starts a comment line;
// blank lines ignored; surrounding spaces trimmed):
//
//     # access-key  secret-key
//     AKIACLEAVEEXAMPLE  wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
//
// Access keys are 3-128 characters of [A-Za-z0-9._-]; secrets are 8-128
// printable ASCII characters without spaces. A duplicate access key is an
// error.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cleave::s3 {

class CredentialProvider {
  public:
    virtual ~CredentialProvider() = default;
    // The secret of `access_key`, or nullopt when the key is unknown.
    // Thread-safe: called concurrently from every connection.
    virtual std::optional<std::string> secret_for(std::string_view access_key) const = 0;
};

class StaticCredentialProvider final : public CredentialProvider {
  public:
    StaticCredentialProvider() = default;

    // Adds a pair; invalid_argument on a malformed key or secret,
    // already_exists on a duplicate access key.
    Status add(std::string access_key, std::string secret_key);

    // Parses the file format above (the text of a file).
    static Result<StaticCredentialProvider> parse(std::string_view text);
    // Reads and parses a file; not_found when it does not exist.
    static Result<StaticCredentialProvider> load_file(const std::string& path);
    // From CLEAVE_ACCESS_KEY and CLEAVE_SECRET_KEY; not_found when either is
    // unset or empty.
    static Result<StaticCredentialProvider> from_env();

    std::optional<std::string> secret_for(std::string_view access_key) const override;
    size_t size() const { return secrets_.size(); }
    bool empty() const { return secrets_.empty(); }

  private:
    std::map<std::string, std::string, std::less<>> secrets_;
};

// Renders one line of the file format (for `cleave dev` storing a generated
// pair).
std::string format_credentials_line(std::string_view access_key, std::string_view secret_key);

}  // namespace cleave::s3
