#pragma once
// The BodyWriter of the one-node store: hashes the stream (MD5 for the ETag,
// SHA-256 for x-amz-content-sha256 checks), keeps small bodies inline and
// cuts larger ones into chunks that are durable in the chunk store before
// finish() returns. Chunks it wrote stay pinned (safe from GC) until the
// writer is destroyed, i.e. until after the commit that references them.

#include <string>
#include <vector>

#include "blob/chunk_replicator.h"
#include "blob/chunk_store.h"
#include "common/hash.h"
#include "service/local_object_service.h"
#include "service/object_service.h"
#include "shard/records.pb.h"

namespace cleave::service {

class LocalBodyWriter final : public BodyWriter {
  public:
    // inline_limit 0: always chunks (multipart parts).
    // Each chunk is durable here, then handed to `replicator` (when set) for
    // the replicas of `shard`, before write()/finish() return.
    LocalBodyWriter(blob::ChunkStore& chunks, ChunkPins& pins, size_t chunk_size,
                    size_t inline_limit, uint64_t max_size,
                    blob::ChunkReplicator* replicator = nullptr, uint64_t shard = 0);
    ~LocalBodyWriter() override;

    Status write(std::string_view data) override;
    Result<BodyDigest> finish() override;

    // The finished body, for the commit; valid after finish().
    const shard::Body& body() const { return body_; }
    const BodyDigest& digest() const { return digest_; }
    bool finished() const { return finished_; }

  private:
    Status flush_chunk(std::string_view data);

    blob::ChunkStore& chunks_;
    ChunkPins& pins_;
    blob::ChunkReplicator* const replicator_;
    const uint64_t shard_;  // the shard the body's object routes to (its chunks' home)
    const size_t chunk_size_;
    const size_t inline_limit_;
    const uint64_t max_size_;
    Hasher md5_{Hasher::Kind::md5};
    Hasher sha256_{Hasher::Kind::sha256};
    std::string buffer_;
    std::vector<std::string> pinned_;
    shard::Body body_;
    BodyDigest digest_;
    bool finished_ = false;
    Status failed_;
};

}  // namespace cleave::service
