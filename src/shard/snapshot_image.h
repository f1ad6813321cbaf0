#pragma once
// A shard's replicated state as one byte string: what a Raft snapshot of the
// shard carries to a replica that is too far behind to catch up from the log
// (dissertation 5.1, 5.3).
//
// The image holds every record of the state machine's families (record_keys.h:
// 'b' buckets, 'o' objects, 'r' directory markers, 'u' uploads, 'p' parts;
// 'n' nodes and 'm' shard descriptors of the meta shard), the shard's own
// range (keys::state("range"), state_machine.h: it decides which commands
// apply, so it is replicated state) and nothing else: not the applied index
// (the snapshot's metadata carries it), not other 's' shard state, not the
// 'l' command log. An image without a range record installs "owns every pk".
//
//   image   := magic "CLVIMG01" | record* | count be64 | crc32c be32
//   record  := key_len be32 | value_len be32 | key | value
//
// Records are in strictly increasing key order. The CRC32C covers every byte
// before it (magic, records and count), so any damage to the image is found
// before a single record is installed.
//
// Scope: one engine holds one shard's state machine (a split gives the child
// an engine of its own), so the image is the whole of each family.
//
// Threading: both calls may run on any thread; install_image must not run
// concurrently with StateMachine::apply on the same engine (the caller's
// apply loop does both).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/engine.h"

namespace cleave::shard {

// Reads the state machine's families from `snapshot` (a snapshot of `engine`,
// so the image is consistent with one applied index; null reads the latest
// state, which is only consistent if nothing applies meanwhile) and serialises
// them. Errors: the engine's read errors; too_large for a record whose key or
// value exceeds 4 GiB.
Result<std::string> build_image(storage::Engine& engine, const storage::Snapshot* snapshot);

// Replaces the state machine's families in `engine` with the image's records
// and sets the applied index to `applied_index` (as StateMachine stores it),
// in one synced WriteBatch: after a crash either the old state or the new one
// is there, never a mix. A damaged or malformed image is corruption and the
// engine is left untouched. Anyone caching the applied index re-reads it
// afterwards (StateMachine::load_applied_index).
Status install_image(storage::Engine& engine, std::string_view image, uint64_t applied_index);

}  // namespace cleave::shard
