#pragma once
// An in-memory ObjectService for the S3 layer's tests: the semantics of the
// interface's contract (conditions, listing with delimiters and start-after,
// multipart rules) without any storage underneath. Thread-safe.

#include <map>
#include <mutex>
#include <optional>

#include "service/object_service.h"

namespace cleave::s3::testing {

class FakeObjectService final : public service::ObjectService {
  public:
    FakeObjectService() = default;

    // Smallest size of every part but the last (S3: 5 MiB); tests lower it.
    void set_min_part_bytes(uint64_t n) { min_part_bytes_ = n; }
    // The next get_object fails with this status after its first piece (to
    // test mid-stream failures, e.g. corruption).
    void fail_next_get(Status st);
    // Size of the pieces readers return.
    void set_read_piece_bytes(size_t n) { read_piece_bytes_ = n; }
    size_t object_count(std::string_view bucket) const;

    Status create_bucket(std::string_view bucket) override;
    Status delete_bucket(std::string_view bucket) override;
    Result<service::BucketInfo> head_bucket(std::string_view bucket) override;
    Result<std::vector<service::BucketInfo>> list_buckets() override;
    Result<std::unique_ptr<service::BodyWriter>> begin_put(std::string_view bucket,
                                                           std::string_view key) override;
    Result<service::ObjectInfo> commit_put(std::unique_ptr<service::BodyWriter> body,
                                           std::string_view bucket, std::string_view key,
                                           const service::ObjectHeaders& headers,
                                           const service::WriteConditions& conditions) override;
    Result<service::ObjectInfo> head_object(std::string_view bucket, std::string_view key) override;
    Result<std::unique_ptr<service::ObjectReader>> get_object(
        std::string_view bucket, std::string_view key,
        std::optional<service::ByteRange> range) override;
    Status delete_object(std::string_view bucket, std::string_view key) override;
    Result<service::ObjectInfo> copy_object(std::string_view src_bucket, std::string_view src_key,
                                            std::string_view dst_bucket, std::string_view dst_key,
                                            const std::optional<service::ObjectHeaders>& headers,
                                            const service::WriteConditions& conditions) override;
    Result<service::ListResult> list_objects(std::string_view bucket,
                                             const service::ListQuery& query) override;
    Result<std::string> create_multipart(std::string_view bucket, std::string_view key,
                                         const service::ObjectHeaders& headers) override;
    Result<std::unique_ptr<service::BodyWriter>> begin_part(std::string_view bucket,
                                                            std::string_view key,
                                                            std::string_view upload_id,
                                                            uint32_t part_number) override;
    Result<service::PartInfo> commit_part(std::unique_ptr<service::BodyWriter> body,
                                          std::string_view bucket, std::string_view key,
                                          std::string_view upload_id,
                                          uint32_t part_number) override;
    Result<service::ObjectInfo> complete_multipart(
        std::string_view bucket, std::string_view key, std::string_view upload_id,
        const std::vector<service::CompletedPart>& parts,
        const service::WriteConditions& conditions) override;
    Status abort_multipart(std::string_view bucket, std::string_view key,
                           std::string_view upload_id) override;
    Result<service::ListPartsResult> list_parts(std::string_view bucket, std::string_view key,
                                                std::string_view upload_id,
                                                uint32_t part_number_marker,
                                                uint32_t max_parts) override;
    Result<service::ListUploadsResult> list_uploads(std::string_view bucket,
                                                    std::string_view prefix,
                                                    std::string_view delimiter,
                                                    std::string_view key_marker,
                                                    std::string_view upload_id_marker,
                                                    uint32_t max_uploads) override;

  private:
    struct Object {
        service::ObjectInfo info;
        std::string data;
    };
    struct Part {
        service::PartInfo info;
        std::string data;
    };
    struct Upload {
        std::string key;
        service::ObjectHeaders headers;
        int64_t initiated_ms = 0;
        std::map<uint32_t, Part> parts;
    };
    struct Bucket {
        int64_t created_ms = 0;
        std::map<std::string, Object, std::less<>> objects;
        std::map<std::string, Upload, std::less<>> uploads;  // by upload id
    };

    int64_t now_ms_locked();
    Status check_conditions_locked(const Bucket& b, std::string_view key,
                                   const service::WriteConditions& c) const;

    mutable std::mutex mu_;
    std::map<std::string, Bucket, std::less<>> buckets_;
    int64_t last_ms_ = 0;
    uint64_t next_upload_ = 1;
    uint64_t min_part_bytes_ = service::kMinPartBytes;
    size_t read_piece_bytes_ = 64 * 1024;
    std::optional<Status> fail_next_get_;
};

}  // namespace cleave::s3::testing
