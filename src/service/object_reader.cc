#include "service/object_reader.h"

#include "common/hash.h"
#include "common/logging.h"

namespace cleave::service {

LocalObjectReader::LocalObjectReader(blob::ChunkSource& chunks, ChunkPins& pins, ObjectInfo info,
                                     shard::Body body, uint64_t offset, uint64_t length)
    : chunks_(chunks),
      pins_(pins),
      info_(std::move(info)),
      body_(std::move(body)),
      offset_(offset),
      length_(length) {
    CLEAVE_ASSERT(offset_ + length_ <= body_.size(), "range {}+{} beyond size {}", offset_, length_,
                  body_.size());
    for (const auto& c : body_.chunks()) pins_.pin(c.id());
}

LocalObjectReader::~LocalObjectReader() {
    for (const auto& c : body_.chunks()) pins_.unpin(c.id());
}

Result<std::string> LocalObjectReader::next() {
    if (served_ == length_) return std::string();
    const uint64_t pos = offset_ + served_;
    if (body_.chunks_size() == 0) {
        served_ = length_;
        return body_.inline_data().substr(pos, length_);
    }
    // Skip chunks wholly before pos.
    while (chunk_index_ < static_cast<size_t>(body_.chunks_size()) &&
           chunk_start_ + body_.chunks(static_cast<int>(chunk_index_)).size() <= pos) {
        chunk_start_ += body_.chunks(static_cast<int>(chunk_index_)).size();
        ++chunk_index_;
    }
    CLEAVE_ASSERT(chunk_index_ < static_cast<size_t>(body_.chunks_size()), "range past chunks");
    const auto& ref = body_.chunks(static_cast<int>(chunk_index_));
    auto data = chunks_.get(blob::chunk_id_from_bytes(ref.id()));
    if (!data.is_ok()) {
        module_logger("service")->error("object {:?}: chunk {} unreadable: {}", info_.key,
                                        to_hex(ref.id()), data.status().to_string());
        return data.status();
    }
    if (data->size() != ref.size()) {
        return Status::corruption(fmt::format("chunk {} has {} bytes, expected {}",
                                              to_hex(ref.id()), data->size(), ref.size()));
    }
    uint64_t in_chunk = pos - chunk_start_;
    uint64_t take = std::min<uint64_t>(ref.size() - in_chunk, length_ - served_);
    served_ += take;
    if (in_chunk == 0 && take == data->size()) return std::move(*data);
    return data->substr(in_chunk, take);
}

}  // namespace cleave::service
