#include "service/body_writer.h"

namespace cleave::service {

LocalBodyWriter::LocalBodyWriter(blob::ChunkStore& chunks, ChunkPins& pins, size_t chunk_size,
                                 size_t inline_limit, uint64_t max_size,
                                 blob::ChunkReplicator* replicator, uint64_t shard)
    : chunks_(chunks),
      pins_(pins),
      replicator_(replicator),
      shard_(shard),
      chunk_size_(chunk_size),
      inline_limit_(inline_limit),
      max_size_(max_size) {
    CLEAVE_ASSERT(chunk_size_ > 0 && inline_limit_ <= chunk_size_, "bad chunking {} {}",
                  chunk_size_, inline_limit_);
}

LocalBodyWriter::~LocalBodyWriter() {
    for (const auto& id : pinned_) pins_.unpin(id);
}

Status LocalBodyWriter::flush_chunk(std::string_view data) {
    auto id = chunks_.put(data);
    if (!id.is_ok()) return id.status();
    std::string raw = blob::chunk_id_bytes(*id);
    pins_.pin(raw);
    pinned_.push_back(raw);
    if (replicator_) CLEAVE_RETURN_IF_ERROR(replicator_->replicate(*id, data, shard_));
    auto* ref = body_.add_chunks();
    ref->set_id(raw);
    ref->set_size(data.size());
    return Status::ok();
}

Status LocalBodyWriter::write(std::string_view data) {
    CLEAVE_ASSERT(!finished_, "write after finish");
    if (!failed_.is_ok()) return failed_;
    if (digest_.size + data.size() > max_size_) {
        failed_ = Status(Errc::too_large, fmt::format("body exceeds {} bytes", max_size_));
        return failed_;
    }
    md5_.update(data);
    sha256_.update(data);
    digest_.size += data.size();
    while (!data.empty()) {
        size_t take = std::min(data.size(), chunk_size_ - buffer_.size());
        buffer_.append(data.substr(0, take));
        data.remove_prefix(take);
        if (buffer_.size() == chunk_size_) {
            failed_ = flush_chunk(buffer_);
            buffer_.clear();
            if (!failed_.is_ok()) return failed_;
        }
    }
    return Status::ok();
}

Result<BodyDigest> LocalBodyWriter::finish() {
    CLEAVE_ASSERT(!finished_, "finish twice");
    if (!failed_.is_ok()) return failed_;
    finished_ = true;
    if (body_.chunks_size() == 0 && buffer_.size() <= inline_limit_ && inline_limit_ > 0) {
        body_.set_inline_data(buffer_);
    } else if (!buffer_.empty()) {
        CLEAVE_RETURN_IF_ERROR(flush_chunk(buffer_));
    }
    buffer_.clear();
    buffer_.shrink_to_fit();
    body_.set_size(digest_.size);
    digest_.md5 = md5_.finish();
    digest_.sha256 = sha256_.finish();
    return digest_;
}

}  // namespace cleave::service
