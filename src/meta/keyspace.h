#pragma once
// The placement keyspace (DESIGN.md §3): where every object lives.
//
//     pk = H(bucket, root) ‖ bucket ‖ 0x00 ‖ key
//
// `root` is the key up to and including its first '/', or "" for a key with
// no '/'. H is XXH3-64 over (bucket ‖ 0x00 ‖ root), written big-endian so that
// ranges of pk are ranges of hash values. Because the hash leads, root
// directories spread evenly over shards; because the rest is ordered, one root
// directory is one contiguous range of pk (a listing is a range scan).
//
// Directory index: the bucket root (root "") also holds one marker per
// non-empty root directory, at
//
//     H(bucket, "") ‖ bucket ‖ 0x01 ‖ root
//
// Bucket names never contain 0x00 or 0x01 (S3 name rules), so the encodings
// are unambiguous. Pure functions; no I/O.

#include <cstdint>
#include <string>
#include <string_view>

namespace cleave::meta {

// The root directory of `key`: up to and including the first '/', or "".
std::string_view root_of(std::string_view key);

// H(bucket, root).
uint64_t root_hash(std::string_view bucket, std::string_view root);

// The 8-byte big-endian hash prefix of every pk in (bucket, root).
std::string hash_prefix(std::string_view bucket, std::string_view root);

// pk of an object.
std::string placement_key(std::string_view bucket, std::string_view key);

// First pk of the (bucket, root) directory range: every key of the directory
// that is >= `from` (which must start with `root`) sorts at or after it.
std::string directory_seek_key(std::string_view bucket, std::string_view root,
                               std::string_view from);
// [begin, end) of all pks of keys in (bucket, root).
std::string directory_begin(std::string_view bucket, std::string_view root);
std::string directory_end(std::string_view bucket, std::string_view root);

// The directory marker of `root` in `bucket`, and the range of all markers.
std::string dir_marker_key(std::string_view bucket, std::string_view root);
std::string dir_markers_begin(std::string_view bucket);
std::string dir_markers_end(std::string_view bucket);

// Decoding: the key of an object pk, the root of a marker pk. The argument
// must have been made by placement_key / dir_marker_key for this bucket.
std::string_view key_of(std::string_view pk, std::string_view bucket);
std::string_view root_of_marker(std::string_view marker, std::string_view bucket);

// The smallest string greater than every string that starts with `prefix`,
// or "" when there is none (prefix all 0xff).
std::string prefix_successor(std::string_view prefix);

}  // namespace cleave::meta
