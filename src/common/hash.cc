#include "common/hash.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <xxhash.h>
#include <algorithm>

#include "common/assert.h"

namespace cleave {

struct Hasher::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher(Kind kind) : impl_(std::make_unique<Impl>()), kind_(kind) {
    impl_->ctx = EVP_MD_CTX_new();
    CLEAVE_ASSERT(impl_->ctx != nullptr, "EVP_MD_CTX_new failed");
    const EVP_MD* md = kind == Kind::sha256 ? EVP_sha256() : EVP_md5();
    CLEAVE_ASSERT(EVP_DigestInit_ex(impl_->ctx, md, nullptr) == 1, "EVP_DigestInit_ex failed");
}

Hasher::~Hasher() {
    if (impl_ && impl_->ctx) EVP_MD_CTX_free(impl_->ctx);
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view data) {
    CLEAVE_ASSERT(EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) == 1, "EVP_DigestUpdate");
}

std::string Hasher::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    CLEAVE_ASSERT(EVP_DigestFinal_ex(impl_->ctx, out, &len) == 1, "EVP_DigestFinal_ex");
    const EVP_MD* md = kind_ == Kind::sha256 ? EVP_sha256() : EVP_md5();
    CLEAVE_ASSERT(EVP_DigestInit_ex(impl_->ctx, md, nullptr) == 1, "EVP_DigestInit_ex");
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string sha256(std::string_view data) {
    Hasher h(Hasher::Kind::sha256);
    h.update(data);
    return h.finish();
}

std::string md5(std::string_view data) {
    Hasher h(Hasher::Kind::md5);
    h.update(data);
    return h.finish();
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    CLEAVE_ASSERT(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                       &len) != nullptr,
                  "HMAC failed");
    return std::string(reinterpret_cast<char*>(out), len);
}

uint64_t xxhash64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

uint32_t crc32c(std::string_view data) { return crc32c_extend(0xFFFFFFFFu, data); }

uint32_t crc32c_extend(uint32_t crc, std::string_view more) {
    // ISA-L takes an int length: feed large inputs in pieces.
    constexpr size_t kPiece = 1 << 30;
    while (true) {
        const size_t n = std::min(more.size(), kPiece);
        crc = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(more.data())),
                          static_cast<int>(n), crc);
        more.remove_prefix(n);
        if (more.empty()) return crc;
    }
}

std::string to_hex(std::string_view raw) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(raw.size() * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool from_hex(std::string_view hex, std::string* out) {
    if (hex.size() % 2 != 0) return false;
    std::string r;
    r.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]);
        int lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        r.push_back(static_cast<char>((hi << 4) | lo));
    }
    *out = std::move(r);
    return true;
}

std::string base64_encode(std::string_view raw) {
    std::string out(4 * ((raw.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(raw.data()),
                            static_cast<int>(raw.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

bool base64_decode(std::string_view b64, std::string* out) {
    if (b64.size() % 4 != 0) return false;
    std::string r(3 * b64.size() / 4, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(r.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    if (n < 0) return false;
    size_t len = static_cast<size_t>(n);
    // EVP_DecodeBlock counts padding bytes as output; drop them.
    if (!b64.empty() && b64.back() == '=') --len;
    if (b64.size() >= 2 && b64[b64.size() - 2] == '=') --len;
    r.resize(len);
    *out = std::move(r);
    return true;
}

}  // namespace cleave
