#include "s3/credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace cleave::s3 {
namespace {

bool valid_access_key(std::string_view k) {
    if (k.size() < 3 || k.size() > 128) return false;
    for (char c : k) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool valid_secret(std::string_view s) {
    if (s.size() < 8 || s.size() > 128) return false;
    for (char c : s) {
        if (c <= ' ' || c > '~') return false;
    }
    return true;
}

std::string_view trim_ws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

Status StaticCredentialProvider::add(std::string access_key, std::string secret_key) {
    if (!valid_access_key(access_key))
        return Status::invalid_argument(
            fmt::format("access key '{}' is not 3-128 characters of [A-Za-z0-9._-]", access_key));
    // The secret is never echoed back.
    if (!valid_secret(secret_key))
        return Status::invalid_argument(fmt::format(
            "secret of access key '{}' is not 8-128 printable characters without spaces",
            access_key));
    if (secrets_.contains(access_key))
        return Status::already_exists(fmt::format("access key '{}' given twice", access_key));
    secrets_.emplace(std::move(access_key), std::move(secret_key));
    return Status::ok();
}

Result<StaticCredentialProvider> StaticCredentialProvider::parse(std::string_view text) {
    StaticCredentialProvider p;
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = trim_ws(text.substr(pos, nl - pos));
        pos = nl + 1;
        ++line_no;
        if (line.empty() || line.front() == '#') continue;
        size_t sp = line.find_first_of(" \t");
        if (sp == std::string_view::npos)
            return Status::invalid_argument(
                fmt::format("credentials line {}: expected 'ACCESS_KEY SECRET_KEY'", line_no));
        std::string_view key = line.substr(0, sp);
        std::string_view secret = trim_ws(line.substr(sp));
        if (secret.find_first_of(" \t") != std::string_view::npos)
            return Status::invalid_argument(
                fmt::format("credentials line {}: more than two fields", line_no));
        Status st = p.add(std::string(key), std::string(secret));
        if (!st.is_ok())
            return Status(st.code(), fmt::format("credentials line {}: {}", line_no, st.message()));
    }
    return p;
}

Result<StaticCredentialProvider> StaticCredentialProvider::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        if (err == ENOENT) return Status::not_found(fmt::format("{}: no such file", path));
        return Status::io_error(fmt::format("{}: {}", path, std::strerror(err)));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    auto r = parse(ss.str());
    if (!r.is_ok())
        return Status(r.status().code(), fmt::format("{}: {}", path, r.status().message()));
    return r;
}

Result<StaticCredentialProvider> StaticCredentialProvider::from_env() {
    const char* key = std::getenv("CLEAVE_ACCESS_KEY");
    const char* secret = std::getenv("CLEAVE_SECRET_KEY");
    if (key == nullptr || secret == nullptr || *key == '\0' || *secret == '\0')
        return Status::not_found("CLEAVE_ACCESS_KEY and CLEAVE_SECRET_KEY are not both set");
    StaticCredentialProvider p;
    Status st = p.add(key, secret);
    if (!st.is_ok()) return Status(st.code(), "from the environment: " + st.message());
    return p;
}

std::optional<std::string> StaticCredentialProvider::secret_for(std::string_view access_key) const {
    auto it = secrets_.find(access_key);
    if (it == secrets_.end()) return std::nullopt;
    return it->second;
}

std::string format_credentials_line(std::string_view access_key, std::string_view secret_key) {
    return fmt::format("{} {}\n", access_key, secret_key);
}

}  // namespace cleave::s3
