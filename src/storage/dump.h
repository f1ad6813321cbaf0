#pragma once
// A portable, engine-independent dump of an engine's contents: the
// checkpoint format of the memory and Redis engines (RocksDB uses its own
// native checkpoints). One file, `<dir>/ENGINE_DUMP`:
//
//   "CLEAVE-DUMP-1\n"
//   record*:  'R' u32 key_len key u32 value_len value u32 crc32c(record so far)
//   trailer:  'E' u64 record_count u32 crc32c('E' count)
//
// Integers are little-endian. A missing trailer, a bad CRC or a wrong count is
// corruption: a damaged dump is never loaded as if it were whole.

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/engine.h"

namespace cleave::storage {

inline constexpr std::string_view kDumpFileName = "ENGINE_DUMP";

// Writes every pair `it` yields from seek_to_first() into <dir>/ENGINE_DUMP.
// `dir` must not exist (already_exists otherwise); it is created, and the file
// and directory are fsynced before this returns.
Status write_dump(Iterator& it, const std::string& dir);

// Calls `sink` for each pair of <dir>/ENGINE_DUMP in order, stopping at the
// first error (which it returns). not_found if there is no dump; corruption
// for a damaged one (possibly after some pairs were already passed on: load
// into something you can throw away).
Status read_dump(const std::string& dir,
                 const std::function<Status(std::string_view key, std::string_view value)>& sink);

// Loads a dump into `engine` in batches, then syncs it.
Status load_dump(const std::string& dir, Engine& engine);

}  // namespace cleave::storage
