#pragma once
// The ObjectReader of the one-node store: serves a byte range of an object
// from its inline data or chunk by chunk, each chunk verified against its
// SHA-256 by the chunk store before a byte of it is served. Chunks stay
// pinned (safe from GC) while the reader lives.

#include <string>
#include <vector>

#include "blob/chunk_source.h"
#include "service/local_object_service.h"
#include "service/object_service.h"
#include "shard/records.pb.h"

namespace cleave::service {

class LocalObjectReader final : public ObjectReader {
  public:
    LocalObjectReader(blob::ChunkSource& chunks, ChunkPins& pins, ObjectInfo info, shard::Body body,
                      uint64_t offset, uint64_t length);
    ~LocalObjectReader() override;

    const ObjectInfo& info() const override { return info_; }
    uint64_t offset() const override { return offset_; }
    uint64_t length() const override { return length_; }
    Result<std::string> next() override;

  private:
    blob::ChunkSource& chunks_;
    ChunkPins& pins_;
    const ObjectInfo info_;
    const shard::Body body_;
    const uint64_t offset_;
    const uint64_t length_;
    uint64_t served_ = 0;
    size_t chunk_index_ = 0;    // first chunk that may still hold unserved bytes
    uint64_t chunk_start_ = 0;  // object offset of chunks(chunk_index_)
};

}  // namespace cleave::service
