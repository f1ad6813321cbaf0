#pragma once
// Where to split a shard that grew too big: a placement key that halves its
// objects by size. The host measures shard_bytes() against its threshold and
// proposes Split{choose_split_key(...)} (commands.proto).
//
// Weight of an object: its record's key and value bytes (inline data is in
// the value) plus, when the data is not inline (chunks in the chunk store),
// the object's size — so a big object weighs what it holds, not what its
// record takes. Markers, uploads and parts are not counted: they follow the
// objects and are small.
//
// Threading: any thread; reads the engine's latest state (a concurrent apply
// only makes the answer approximate, never wrong: Split checks its key).

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "shard/records.pb.h"
#include "storage/engine.h"

namespace cleave::shard {

// The total weight of the shard's objects (all of the 'o' family).
// Errors: the engine's read errors; corruption for an unparsable record.
Result<uint64_t> shard_bytes(storage::Engine& engine);

// A key strictly inside (range.start, range.end) that splits the objects of
// the range in two halves of about equal weight, or nullopt when the range
// holds fewer than 2 objects.
//
// The cut falls before the object holding the middle byte. It moves back to
// the start of that object's root directory (its 8-byte hash prefix) when
// that keeps at least a quarter of the weight below, so a directory is not
// split without need (a listing then stays on one shard); the hash prefix is
// a valid cut point (shard_range.h). When the first object alone holds half
// the weight, the cut falls right after it.
Result<std::optional<std::string>> choose_split_key(storage::Engine& engine,
                                                    const ShardDescriptor& range);

}  // namespace cleave::shard
