#include "meta/keyspace.h"

#include "common/assert.h"
#include "common/hash.h"

namespace cleave::meta {

namespace {
constexpr char kObjectSep = '\x00';
constexpr char kMarkerSep = '\x01';

std::string head(std::string_view bucket, std::string_view root, char sep) {
    std::string out = hash_prefix(bucket, root);
    out.append(bucket);
    out.push_back(sep);
    return out;
}
}  // namespace

std::string_view root_of(std::string_view key) {
    auto slash = key.find('/');
    return slash == std::string_view::npos ? std::string_view{} : key.substr(0, slash + 1);
}

uint64_t root_hash(std::string_view bucket, std::string_view root) {
    std::string material;
    material.reserve(bucket.size() + 1 + root.size());
    material.append(bucket);
    material.push_back('\0');
    material.append(root);
    return xxhash64(material);
}

std::string hash_prefix(std::string_view bucket, std::string_view root) {
    uint64_t h = root_hash(bucket, root);
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<size_t>(i)] = static_cast<char>(h & 0xff);
        h >>= 8;
    }
    return out;
}

std::string placement_key(std::string_view bucket, std::string_view key) {
    std::string out = head(bucket, root_of(key), kObjectSep);
    out.append(key);
    return out;
}

std::string directory_seek_key(std::string_view bucket, std::string_view root,
                               std::string_view from) {
    CLEAVE_ASSERT(from.substr(0, root.size()) == root, "seek key outside its directory");
    std::string out = head(bucket, root, kObjectSep);
    out.append(from);
    return out;
}

std::string directory_begin(std::string_view bucket, std::string_view root) {
    std::string out = head(bucket, root, kObjectSep);
    out.append(root);
    return out;
}

std::string directory_end(std::string_view bucket, std::string_view root) {
    // Keys of the directory all start with root; the bucket root ("") holds
    // keys without '/', which all sort before the 0x01 marker separator.
    if (root.empty()) {
        std::string out = head(bucket, root, kObjectSep);
        out.back() = kMarkerSep;
        return out;
    }
    std::string succ = prefix_successor(directory_begin(bucket, root));
    return succ;
}

std::string dir_marker_key(std::string_view bucket, std::string_view root) {
    std::string out = head(bucket, "", kMarkerSep);
    out.append(root);
    return out;
}

std::string dir_markers_begin(std::string_view bucket) { return head(bucket, "", kMarkerSep); }

std::string dir_markers_end(std::string_view bucket) {
    std::string out = head(bucket, "", kMarkerSep);
    out.back() = kMarkerSep + 1;
    return out;
}

std::string_view key_of(std::string_view pk, std::string_view bucket) {
    CLEAVE_ASSERT(pk.size() >= 9 + bucket.size(), "pk too short");
    return pk.substr(9 + bucket.size());
}

std::string_view root_of_marker(std::string_view marker, std::string_view bucket) {
    CLEAVE_ASSERT(marker.size() >= 9 + bucket.size(), "marker too short");
    return marker.substr(9 + bucket.size());
}

std::string prefix_successor(std::string_view prefix) {
    std::string out(prefix);
    while (!out.empty()) {
        unsigned char c = static_cast<unsigned char>(out.back());
        if (c != 0xff) {
            out.back() = static_cast<char>(c + 1);
            return out;
        }
        out.pop_back();
    }
    return out;
}

}  // namespace cleave::meta
