#pragma once
// Helpers shared by the Engine implementations (not part of the interface).

#include <string_view>

#include "common/status.h"
#include "storage/engine.h"

namespace cleave::storage {

// Checks a batch before any of it is applied, so every engine rejects the same
// batches, whole: a delete_range whose begin is after its end is
// invalid_argument (begin == end is an empty range, a no-op).
Status validate_batch(const WriteBatch& batch);

// Bytewise order with a shorter key first on a common prefix (memcmp order).
inline bool key_less(std::string_view a, std::string_view b) { return a < b; }

}  // namespace cleave::storage
