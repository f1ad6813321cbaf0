#pragma once
// A shard's own range of placement keys, as its state machine keeps it at
// keys::state("range") in the shard's engine: a ShardDescriptor whose `start`
// "" means -infinity and whose `end` "" means +infinity. No record means the
// shard owns every pk (id 0, epoch 0): the state of a shard that never split.
//
// Cutting families at a pk. Within each keyed family (record_keys.h: 'o', 'r',
// 'u', 'p'), records sort by pk first, so the records with pk in [a, b) are the
// engine keys [f‖a, f‖b), or [f‖a, f+1) when b is +infinity. For 'u' and 'p'
// the key goes on after the pk (pk 0x00 upload_id ...), so this is exact only
// when no pk is a proper prefix of a cut point followed by 0x00 there. That
// holds for the cut points Split uses: a full pk (object keys hold no 0x00) or
// an 8-byte hash prefix (every pk is longer, so a pk either starts with it and
// sorts after it, or differs inside it).

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "shard/record_keys.h"
#include "shard/records.pb.h"
#include "storage/engine.h"

namespace cleave::shard {

// The families whose records are placed by pk and therefore cut by a split.
inline constexpr std::array<char, 4> kPlacedFamilies = {keys::kObject, keys::kMarker, keys::kUpload,
                                                        keys::kPart};

// pk in [range.start, range.end), with the ±infinity convention.
bool range_contains(const ShardDescriptor& range, std::string_view pk);

// The engine keys [begin, end) of `family`'s records with pk in [lo, hi)
// (hi "" = +infinity).
std::pair<std::string, std::string> family_cut(char family, std::string_view lo,
                                               std::string_view hi);

// Adds to `batch` the deletion of every placed family's records with pk in
// [lo, hi) (lo "" = -infinity, hi "" = +infinity).
void delete_placed(storage::WriteBatch& batch, std::string_view lo, std::string_view hi);

// "shard 3 [6a1f.., +inf) epoch 2", for messages and logs.
std::string describe_range(const ShardDescriptor& range);

// Where a shard's engine keeps its range: keys::state("range").
const std::string& range_key();

// The range record of `engine` (as of `snapshot`), or none: a shard that
// never split owns every pk. Errors: the engine's, corruption.
Result<std::optional<ShardDescriptor>> read_range(storage::Engine& engine,
                                                  const storage::Snapshot* snapshot = nullptr);

}  // namespace cleave::shard
