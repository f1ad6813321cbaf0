#pragma once
// Digests used across Cleave: SHA-256 (chunk ids, SigV4), MD5 (ETags,
// Content-MD5), HMAC-SHA256 (SigV4), xxHash3 (placement keys, CRCs).
// All on OpenSSL / libxxhash from Debian.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cleave {

using Sha256Digest = std::array<uint8_t, 32>;
using Md5Digest = std::array<uint8_t, 16>;

// Incremental hasher over OpenSSL's EVP interface. Not copyable.
class Hasher {
  public:
    enum class Kind { sha256, md5 };
    explicit Hasher(Kind kind);
    ~Hasher();
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;

    void update(std::string_view data);
    // Finishes and returns the raw digest bytes; the hasher is reset after.
    std::string finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Kind kind_;
};

std::string sha256(std::string_view data);                             // raw 32 bytes
std::string md5(std::string_view data);                                // raw 16 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
uint64_t xxhash64(std::string_view data);                              // XXH3 64-bit
uint32_t crc32c(std::string_view data);                                // for records on disk
// crc32c(a + b) == crc32c_extend(crc32c(a), b): a checksum over pieces that
// are never concatenated (a snapshot file's header and image).
uint32_t crc32c_extend(uint32_t crc_of_prefix, std::string_view more);

std::string to_hex(std::string_view raw);
// Returns empty optional-like: false when `hex` is not valid lowercase/uppercase hex.
bool from_hex(std::string_view hex, std::string* out);
std::string base64_encode(std::string_view raw);
bool base64_decode(std::string_view b64, std::string* out);

}  // namespace cleave
