#pragma once
// Reads of a shard's state, straight from the engine (optionally through a
// snapshot for a consistent multi-range view). The state machine uses the
// point reads while applying; the service uses all of them to answer clients.
//
// Threading: any thread; a Reader is cheap and holds no state but its
// references.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "shard/records.pb.h"
#include "storage/engine.h"

namespace cleave::shard {

struct ListedObject {
    std::string key;
    ObjectRecord record;
};

struct ObjectPage {
    std::vector<ListedObject> objects;
    std::vector<std::string> common_prefixes;
    bool is_truncated = false;
    std::string next_start_after;  // last key or common prefix returned
};

struct ListedUpload {
    std::string key;
    UploadRecord record;
};

struct UploadPage {
    std::vector<ListedUpload> uploads;
    std::vector<std::string> common_prefixes;
    bool is_truncated = false;
    std::string next_key_marker;
    std::string next_upload_id_marker;
};

class Reader {
  public:
    explicit Reader(storage::Engine& engine, const storage::Snapshot* snapshot = nullptr)
        : engine_(engine), snapshot_(snapshot) {}

    Result<std::optional<BucketRecord>> bucket(std::string_view name);
    Result<std::vector<BucketRecord>> buckets();
    // The meta shard's node registry and shard map, by id.
    Result<std::vector<NodeRecord>> nodes();
    Result<std::vector<ShardDescriptor>> shard_map();
    // True when the bucket holds no object and no multipart upload.
    Result<bool> bucket_is_empty(std::string_view bucket);

    Result<std::optional<ObjectRecord>> object(std::string_view bucket, std::string_view key);
    Result<bool> dir_marker_exists(std::string_view bucket, std::string_view root);

    // Bucket-wide listing in key order: the bucket-root range merged with the
    // range of every marked root directory (DESIGN.md §3). Keys strictly after
    // `start_after`; with a delimiter, keys rolling up into a common prefix
    // that is <= start_after are skipped (that prefix was already returned).
    Result<ObjectPage> list_objects(std::string_view bucket, std::string_view prefix,
                                    std::string_view delimiter, std::string_view start_after,
                                    uint32_t max_keys);

    Result<std::optional<UploadRecord>> upload(std::string_view bucket, std::string_view key,
                                               std::string_view upload_id);
    // Parts of an upload with part_number > marker, at most max (+1 to tell truncation).
    Result<std::vector<PartRecord>> parts(std::string_view bucket, std::string_view key,
                                          std::string_view upload_id, uint32_t marker,
                                          uint32_t max);
    Result<UploadPage> list_uploads(std::string_view bucket, std::string_view prefix,
                                    std::string_view delimiter, std::string_view key_marker,
                                    std::string_view upload_id_marker, uint32_t max_uploads);

    // Every chunk id referenced by an object or a part (mark phase of GC).
    Status for_each_chunk_ref(const std::function<void(const std::string& chunk_id)>& fn);

  private:
    storage::IterOptions range(std::string begin, std::string end) const;

    storage::Engine& engine_;
    const storage::Snapshot* snapshot_;
};

// Length of upload ids the service generates (hex); the part and upload keys
// rely on it to decode unambiguously.
inline constexpr size_t kUploadIdLength = 32;

}  // namespace cleave::shard
