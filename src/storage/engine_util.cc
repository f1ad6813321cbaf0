#include "storage/engine_util.h"

#include <fmt/format.h>

namespace cleave::storage {

Status validate_batch(const WriteBatch& batch) {
    for (const auto& op : batch.ops()) {
        if (op.type == WriteBatch::OpType::delete_range && op.value < op.key) {
            return Status::invalid_argument(
                fmt::format("delete_range begin is after its end (op {} of {})",
                            &op - batch.ops().data(), batch.ops().size()));
        }
    }
    return Status::ok();
}

}  // namespace cleave::storage
