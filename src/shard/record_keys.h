#pragma once
// Where a shard's records live in its engine (one engine per shard: its
// state, and for a one-node store its command log). Each record family has a
// one-byte prefix; within a family, records are ordered by placement key (pk),
// so a shard's range [start, end) of pk is one range per family and a split
// cuts each family at the same pk (shard_range.h).
//
//   'b' bucket                         -> BucketRecord        (meta shard)
//   'g' bucket                         -> be64(incarnation)   (a removed mirror)
//   'd' bucket 0x00 root               -> ""                  (roots this shard
//                                         has held records of: root_held)
//   'o' pk                             -> ObjectRecord
//   'r' marker pk                      -> DirMarker           (directory index)
//   'u' pk 0x00 upload_id              -> UploadRecord
//   'p' pk 0x00 upload_id 0x00 be32(n) -> PartRecord
//   'n' be64(node id)                  -> NodeRecord          (meta shard)
//   'm' be64(shard id)                 -> ShardDescriptor     (meta shard)
//   's' name                           -> shard state (applied index, the
//                                         shard's own range: shard_range.h)
//   'l' be64(index)                    -> logged Command      (command_log.h)
//
// Keys inside 'u' and 'p' put 0x00 after the pk; a pk never ends a key early
// because object keys and upload ids are compared as a whole pk first.

#include <cstdint>
#include <string>
#include <string_view>

namespace cleave::shard::keys {

inline constexpr char kBucket = 'b';
inline constexpr char kBucketGone = 'g';
inline constexpr char kRootHeld = 'd';
inline constexpr char kObject = 'o';
inline constexpr char kMarker = 'r';
inline constexpr char kUpload = 'u';
inline constexpr char kPart = 'p';
inline constexpr char kState = 's';
inline constexpr char kNode = 'n';
inline constexpr char kShardMap = 'm';
inline constexpr char kLog = 'l';

inline std::string with_family(char family, std::string_view rest) {
    std::string out;
    out.reserve(rest.size() + 1);
    out.push_back(family);
    out.append(rest);
    return out;
}

inline std::string be64(uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    return out;
}

inline uint64_t parse_be64(std::string_view s) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

inline uint32_t parse_be32(std::string_view s) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

inline std::string be32(uint32_t v) {
    std::string out(4, '\0');
    for (int i = 3; i >= 0; --i) {
        out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    return out;
}

inline std::string bucket(std::string_view name) { return with_family(kBucket, name); }
inline std::string bucket_gone(std::string_view name) { return with_family(kBucketGone, name); }

// A shard's own index of the root directories it has held an object or an
// upload of. The directory markers (the listing's index) sit with the bucket
// root, which after a split may be another shard; a shard asked whether a
// bucket is empty in its range needs an index of its own. Not cut by a split
// (both halves keep every entry: a stale one costs a seek), removed with the
// bucket.
inline std::string roots_held_prefix(std::string_view bucket) {
    std::string out = with_family(kRootHeld, bucket);
    out.push_back('\0');
    return out;
}
inline std::string root_held(std::string_view bucket, std::string_view root) {
    std::string out = roots_held_prefix(bucket);
    out.append(root);
    return out;
}

inline std::string upload(std::string_view pk, std::string_view upload_id) {
    std::string out = with_family(kUpload, pk);
    out.push_back('\0');
    out.append(upload_id);
    return out;
}

inline std::string part(std::string_view pk, std::string_view upload_id, uint32_t n) {
    std::string out = with_family(kPart, pk);
    out.push_back('\0');
    out.append(upload_id);
    out.push_back('\0');
    out.append(be32(n));
    return out;
}

// All parts of one upload: [part(pk,id,0), part(pk,id,0) with 0xff...) — the
// common prefix is pk 0x00 upload_id 0x00.
inline std::string parts_prefix(std::string_view pk, std::string_view upload_id) {
    std::string out = with_family(kPart, pk);
    out.push_back('\0');
    out.append(upload_id);
    out.push_back('\0');
    return out;
}

inline std::string node(uint64_t id) { return with_family(kNode, be64(id)); }
inline std::string shard_descriptor(uint64_t id) { return with_family(kShardMap, be64(id)); }

inline std::string state(std::string_view name) { return with_family(kState, name); }
inline std::string log_entry(uint64_t index) { return with_family(kLog, be64(index)); }

}  // namespace cleave::shard::keys
