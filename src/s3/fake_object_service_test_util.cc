#include "s3/fake_object_service_test_util.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/hash.h"

namespace cleave::s3::testing {
namespace {

using service::BodyDigest;
using service::ObjectInfo;

class FakeWriter final : public service::BodyWriter {
  public:
    Status write(std::string_view data) override {
        if (finished_) return Status::internal("write after finish");
        data_.append(data);
        md5_.update(data);
        sha_.update(data);
        return Status::ok();
    }
    Result<BodyDigest> finish() override {
        if (finished_) return Status::internal("finish twice");
        finished_ = true;
        digest_ = BodyDigest{data_.size(), md5_.finish(), sha_.finish()};
        return digest_;
    }
    std::string data_;
    BodyDigest digest_;
    bool finished_ = false;

  private:
    Hasher md5_{Hasher::Kind::md5};
    Hasher sha_{Hasher::Kind::sha256};
};

class FakeReader final : public service::ObjectReader {
  public:
    FakeReader(ObjectInfo info, std::string data, uint64_t offset, size_t piece,
               std::optional<Status> fail_after_first)
        : info_(std::move(info)),
          data_(std::move(data)),
          offset_(offset),
          piece_(piece),
          fail_(std::move(fail_after_first)) {}
    const ObjectInfo& info() const override { return info_; }
    uint64_t offset() const override { return offset_; }
    uint64_t length() const override { return data_.size(); }
    Result<std::string> next() override {
        if (pos_ > 0 && fail_) return *fail_;
        std::string out = data_.substr(pos_, piece_);
        pos_ += out.size();
        return out;
    }

  private:
    ObjectInfo info_;
    std::string data_;
    uint64_t offset_;
    size_t piece_;
    size_t pos_ = 0;
    std::optional<Status> fail_;
};

Status no_bucket(std::string_view b) {
    return Status(Errc::no_such_bucket, fmt::format("bucket {}", b));
}

}  // namespace

void FakeObjectService::fail_next_get(Status st) {
    std::lock_guard lock(mu_);
    fail_next_get_ = std::move(st);
}

size_t FakeObjectService::object_count(std::string_view bucket) const {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(bucket);
    return it == buckets_.end() ? 0 : it->second.objects.size();
}

int64_t FakeObjectService::now_ms_locked() {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    last_ms_ = std::max(last_ms_ + 1, now);
    return last_ms_;
}

Status FakeObjectService::create_bucket(std::string_view bucket) {
    std::lock_guard lock(mu_);
    if (buckets_.contains(bucket)) return Status::already_exists(std::string(bucket));
    buckets_[std::string(bucket)].created_ms = now_ms_locked();
    return Status::ok();
}

Status FakeObjectService::delete_bucket(std::string_view bucket) {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return no_bucket(bucket);
    if (!it->second.objects.empty() || !it->second.uploads.empty())
        return Status(Errc::not_empty, std::string(bucket));
    buckets_.erase(it);
    return Status::ok();
}

Result<service::BucketInfo> FakeObjectService::head_bucket(std::string_view bucket) {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return no_bucket(bucket);
    return service::BucketInfo{it->first, it->second.created_ms};
}

Result<std::vector<service::BucketInfo>> FakeObjectService::list_buckets() {
    std::lock_guard lock(mu_);
    std::vector<service::BucketInfo> out;
    for (const auto& [n, b] : buckets_) out.push_back({n, b.created_ms});
    return out;
}

Result<std::unique_ptr<service::BodyWriter>> FakeObjectService::begin_put(std::string_view bucket,
                                                                          std::string_view) {
    std::lock_guard lock(mu_);
    if (!buckets_.contains(bucket)) return no_bucket(bucket);
    return std::unique_ptr<service::BodyWriter>(std::make_unique<FakeWriter>());
}

Status FakeObjectService::check_conditions_locked(const Bucket& b, std::string_view key,
                                                  const service::WriteConditions& c) const {
    auto it = b.objects.find(key);
    if (c.if_none_match_star && it != b.objects.end())
        return Status::precondition_failed("object exists");
    if (c.if_match_etag && (it == b.objects.end() || it->second.info.etag != *c.if_match_etag))
        return Status::precondition_failed("etag differs");
    return Status::ok();
}

Result<ObjectInfo> FakeObjectService::commit_put(std::unique_ptr<service::BodyWriter> body,
                                                 std::string_view bucket, std::string_view key,
                                                 const service::ObjectHeaders& headers,
                                                 const service::WriteConditions& conditions) {
    auto* w = dynamic_cast<FakeWriter*>(body.get());
    if (w == nullptr || !w->finished_) return Status::internal("commit of an unfinished body");
    if (w->data_.size() > service::kMaxPutBytes) return Status(Errc::too_large, "too large");
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    CLEAVE_RETURN_IF_ERROR(check_conditions_locked(bit->second, key, conditions));
    Object o;
    o.info.key = std::string(key);
    o.info.size = w->data_.size();
    o.info.etag = to_hex(w->digest_.md5);
    o.info.last_modified_ms = now_ms_locked();
    o.info.headers = headers;
    o.data = std::move(w->data_);
    ObjectInfo info = o.info;
    bit->second.objects[std::string(key)] = std::move(o);
    return info;
}

Result<ObjectInfo> FakeObjectService::head_object(std::string_view bucket, std::string_view key) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto it = bit->second.objects.find(key);
    if (it == bit->second.objects.end()) return Status(Errc::no_such_key, std::string(key));
    return it->second.info;
}

Result<std::unique_ptr<service::ObjectReader>> FakeObjectService::get_object(
    std::string_view bucket, std::string_view key, std::optional<service::ByteRange> range) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto it = bit->second.objects.find(key);
    if (it == bit->second.objects.end()) return Status(Errc::no_such_key, std::string(key));
    const Object& o = it->second;
    uint64_t first = 0, len = o.data.size();
    if (range) {
        if (range->first > range->last || range->last >= o.data.size())
            return Status(Errc::invalid_range, "range");
        first = range->first;
        len = range->last - range->first + 1;
    }
    auto fail = std::move(fail_next_get_);
    fail_next_get_.reset();
    return std::unique_ptr<service::ObjectReader>(std::make_unique<FakeReader>(
        o.info, o.data.substr(first, len), first, read_piece_bytes_, std::move(fail)));
}

Status FakeObjectService::delete_object(std::string_view bucket, std::string_view key) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto it = bit->second.objects.find(key);
    if (it != bit->second.objects.end()) bit->second.objects.erase(it);
    return Status::ok();
}

Result<ObjectInfo> FakeObjectService::copy_object(
    std::string_view src_bucket, std::string_view src_key, std::string_view dst_bucket,
    std::string_view dst_key, const std::optional<service::ObjectHeaders>& headers,
    const service::WriteConditions& conditions) {
    std::lock_guard lock(mu_);
    auto sb = buckets_.find(src_bucket);
    if (sb == buckets_.end()) return no_bucket(src_bucket);
    auto so = sb->second.objects.find(src_key);
    if (so == sb->second.objects.end()) return Status(Errc::no_such_key, std::string(src_key));
    auto db = buckets_.find(dst_bucket);
    if (db == buckets_.end()) return no_bucket(dst_bucket);
    CLEAVE_RETURN_IF_ERROR(check_conditions_locked(db->second, dst_key, conditions));
    Object o = so->second;
    o.info.key = std::string(dst_key);
    o.info.last_modified_ms = now_ms_locked();
    if (headers) o.info.headers = *headers;
    ObjectInfo info = o.info;
    db->second.objects[std::string(dst_key)] = std::move(o);
    return info;
}

Result<service::ListResult> FakeObjectService::list_objects(std::string_view bucket,
                                                            const service::ListQuery& q) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    service::ListResult r;
    if (q.max_keys == 0) return r;
    const auto& objs = bit->second.objects;
    auto it = q.start_after.empty() ? objs.lower_bound(q.prefix) : objs.upper_bound(q.start_after);
    uint32_t count = 0;
    for (; it != objs.end(); ++it) {
        const std::string& k = it->first;
        if (!k.starts_with(q.prefix)) {
            if (k > q.prefix) break;
            continue;
        }
        std::optional<std::string> group;
        if (!q.delimiter.empty()) {
            size_t d = k.find(q.delimiter, q.prefix.size());
            if (d != std::string::npos) group = k.substr(0, d + q.delimiter.size());
        }
        // A start-after that is itself a common prefix skips its whole group.
        if (group && *group == q.start_after) continue;
        if (group && !r.common_prefixes.empty() && r.common_prefixes.back() == *group) continue;
        if (count == q.max_keys) {
            r.is_truncated = true;
            break;
        }
        ++count;
        if (group) {
            r.common_prefixes.push_back(*group);
            r.next_start_after = *group;
        } else {
            r.objects.push_back(it->second.info);
            r.next_start_after = k;
        }
    }
    if (!r.is_truncated) r.next_start_after.clear();
    return r;
}

Result<std::string> FakeObjectService::create_multipart(std::string_view bucket,
                                                        std::string_view key,
                                                        const service::ObjectHeaders& headers) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    std::string id = fmt::format("upload-{:08}", next_upload_++);
    Upload u;
    u.key = std::string(key);
    u.headers = headers;
    u.initiated_ms = now_ms_locked();
    bit->second.uploads[id] = std::move(u);
    return id;
}

Result<std::unique_ptr<service::BodyWriter>> FakeObjectService::begin_part(
    std::string_view bucket, std::string_view key, std::string_view upload_id,
    uint32_t part_number) {
    if (part_number < 1 || part_number > service::kMaxPartNumber)
        return Status::invalid_argument("part number");
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto u = bit->second.uploads.find(upload_id);
    if (u == bit->second.uploads.end() || u->second.key != key)
        return Status(Errc::no_such_upload, std::string(upload_id));
    return std::unique_ptr<service::BodyWriter>(std::make_unique<FakeWriter>());
}

Result<service::PartInfo> FakeObjectService::commit_part(std::unique_ptr<service::BodyWriter> body,
                                                         std::string_view bucket,
                                                         std::string_view key,
                                                         std::string_view upload_id,
                                                         uint32_t part_number) {
    auto* w = dynamic_cast<FakeWriter*>(body.get());
    if (w == nullptr || !w->finished_) return Status::internal("commit of an unfinished body");
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto u = bit->second.uploads.find(upload_id);
    if (u == bit->second.uploads.end() || u->second.key != key)
        return Status(Errc::no_such_upload, std::string(upload_id));
    Part p;
    p.info.part_number = part_number;
    p.info.size = w->data_.size();
    p.info.etag = to_hex(w->digest_.md5);
    p.info.last_modified_ms = now_ms_locked();
    p.data = std::move(w->data_);
    service::PartInfo info = p.info;
    u->second.parts[part_number] = std::move(p);
    return info;
}

Result<ObjectInfo> FakeObjectService::complete_multipart(
    std::string_view bucket, std::string_view key, std::string_view upload_id,
    const std::vector<service::CompletedPart>& parts, const service::WriteConditions& conditions) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto u = bit->second.uploads.find(upload_id);
    if (u == bit->second.uploads.end() || u->second.key != key)
        return Status(Errc::no_such_upload, std::string(upload_id));
    std::string data, md5s;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0 && parts[i].part_number <= parts[i - 1].part_number)
            return Status(Errc::invalid_part_order, "order");
        auto p = u->second.parts.find(parts[i].part_number);
        if (p == u->second.parts.end() || p->second.info.etag != parts[i].etag)
            return Status(Errc::invalid_part, fmt::format("part {}", parts[i].part_number));
        if (i + 1 < parts.size() && p->second.info.size < min_part_bytes_)
            return Status(Errc::entity_too_small, fmt::format("part {}", parts[i].part_number));
        data += p->second.data;
        std::string raw;
        from_hex(p->second.info.etag, &raw);
        md5s += raw;
    }
    CLEAVE_RETURN_IF_ERROR(check_conditions_locked(bit->second, key, conditions));
    Object o;
    o.info.key = std::string(key);
    o.info.size = data.size();
    o.info.etag = fmt::format("{}-{}", to_hex(md5(md5s)), parts.size());
    o.info.parts_count = static_cast<uint32_t>(parts.size());
    o.info.last_modified_ms = now_ms_locked();
    o.info.headers = u->second.headers;
    o.data = std::move(data);
    ObjectInfo info = o.info;
    bit->second.objects[std::string(key)] = std::move(o);
    bit->second.uploads.erase(u);
    return info;
}

Status FakeObjectService::abort_multipart(std::string_view bucket, std::string_view key,
                                          std::string_view upload_id) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto u = bit->second.uploads.find(upload_id);
    if (u == bit->second.uploads.end() || u->second.key != key)
        return Status(Errc::no_such_upload, std::string(upload_id));
    bit->second.uploads.erase(u);
    return Status::ok();
}

Result<service::ListPartsResult> FakeObjectService::list_parts(std::string_view bucket,
                                                               std::string_view key,
                                                               std::string_view upload_id,
                                                               uint32_t marker,
                                                               uint32_t max_parts) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    auto u = bit->second.uploads.find(upload_id);
    if (u == bit->second.uploads.end() || u->second.key != key)
        return Status(Errc::no_such_upload, std::string(upload_id));
    service::ListPartsResult r;
    for (auto it = u->second.parts.upper_bound(marker); it != u->second.parts.end(); ++it) {
        if (r.parts.size() == max_parts) {
            r.is_truncated = true;
            break;
        }
        r.parts.push_back(it->second.info);
        r.next_part_number_marker = it->first;
    }
    return r;
}

Result<service::ListUploadsResult> FakeObjectService::list_uploads(
    std::string_view bucket, std::string_view prefix, std::string_view delimiter,
    std::string_view key_marker, std::string_view upload_id_marker, uint32_t max_uploads) {
    std::lock_guard lock(mu_);
    auto bit = buckets_.find(bucket);
    if (bit == buckets_.end()) return no_bucket(bucket);
    std::vector<service::UploadInfo> all;
    for (const auto& [id, u] : bit->second.uploads) {
        if (!u.key.starts_with(prefix)) continue;
        if (!key_marker.empty() &&
            (u.key < key_marker || (u.key == key_marker && id <= upload_id_marker)))
            continue;
        all.push_back({u.key, id, u.initiated_ms});
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
    });
    service::ListUploadsResult r;
    (void)delimiter;  // grouping of uploads is not exercised by the tests
    for (const auto& u : all) {
        if (r.uploads.size() == max_uploads) {
            r.is_truncated = true;
            break;
        }
        r.uploads.push_back(u);
        r.next_key_marker = u.key;
        r.next_upload_id_marker = u.upload_id;
    }
    return r;
}

}  // namespace cleave::s3::testing
