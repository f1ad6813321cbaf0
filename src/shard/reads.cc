#include "shard/reads.h"

#include "meta/keyspace.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"

namespace cleave::shard {

namespace {

using meta::prefix_successor;

template <typename Proto>
Result<std::optional<Proto>> parse_optional(Result<std::optional<std::string>> raw,
                                            std::string_view what) {
    if (!raw.is_ok()) return raw.status();
    if (!raw->has_value()) return std::optional<Proto>{};
    Proto p;
    if (!p.ParseFromString(**raw)) return Status::corruption(fmt::format("unparsable {}", what));
    return std::optional<Proto>{std::move(p)};
}

// All keys of one bucket under one prefix, in key order, merged from the
// bucket-root range and the ranges of the marked root directories:
//
//   bucket root:  H(b,"") b 0x00 <keys without '/'>   ─┐
//                                                      ├─ merge by key
//   markers:      H(b,"") b 0x01 <root> ─> directory   ─┘
//                 H(b,root) b 0x00 <root...>  (one after the other, in root order)
//
// Directory ranges are disjoint and ordered by root, so only two streams ever
// need merging: the bucket root and the current directory.
class BucketKeyStream {
  public:
    BucketKeyStream(storage::Engine& engine, const storage::Snapshot* snapshot,
                    std::string_view bucket, std::string_view prefix)
        : engine_(engine), snapshot_(snapshot), bucket_(bucket), prefix_(prefix) {
        std::string_view proot = meta::root_of(prefix);
        if (proot.empty()) {
            // Keys without '/' starting with the prefix, and every directory
            // whose root starts with the prefix.
            std::string begin =
                keys::with_family(keys::kObject, meta::directory_seek_key(bucket, "", prefix));
            root_iter_ = open(begin, prefix_successor(begin));
            std::string mbegin =
                keys::with_family(keys::kMarker, meta::dir_marker_key(bucket, prefix));
            marker_iter_ = open(mbegin, prefix_successor(mbegin));
        } else {
            single_root_ = std::string(proot);
        }
    }

    void seek(std::string_view from) {
        if (root_iter_) {
            root_iter_->seek(
                keys::with_family(keys::kObject, meta::directory_seek_key(bucket_, "", from)));
        }
        if (single_root_) {
            const std::string& r = *single_root_;
            std::string start = std::string(from) < prefix_ ? prefix_ : std::string(from);
            if (start.compare(0, r.size(), r) != 0) {
                // Past the directory (start > r and not under it): nothing left.
                dir_iter_.reset();
            } else {
                std::string begin =
                    keys::with_family(keys::kObject, meta::directory_seek_key(bucket_, r, prefix_));
                dir_iter_ = open(begin, prefix_successor(begin));
                dir_iter_->seek(
                    keys::with_family(keys::kObject, meta::directory_seek_key(bucket_, r, start)));
            }
        } else {
            std::string_view froot = meta::root_of(from);
            marker_iter_->seek(keys::with_family(
                keys::kMarker, meta::dir_marker_key(bucket_, froot.empty() ? from : froot)));
            open_directory(froot.empty() ? std::string_view{} : from);
        }
        settle();
    }

    bool valid() const { return current_ != nullptr; }
    std::string_view key() const { return key_; }
    std::string_view value() const { return current_->value(); }
    void next() {
        current_->next();
        if (current_ == dir_iter_.get() && !single_root_) advance_directories();
        settle();
    }
    // The first failure of any read, kept across seeks: a seek replaces the
    // directory iterator (and refetches the others), and a directory whose
    // read failed must fail the listing, not look like an emptied one.
    Status status() const { return error_; }

  private:
    std::unique_ptr<storage::Iterator> open(std::string begin, std::string end) {
        storage::IterOptions o;
        o.lower_bound = std::move(begin);
        if (!end.empty()) o.upper_bound = std::move(end);
        o.snapshot = snapshot_;
        auto it = engine_.iterate(o);
        it->seek_to_first();
        return it;
    }

    // Opens the directory of the marker under marker_iter_, seeking to `from`
    // when it lies inside that directory.
    void open_directory(std::string_view from) {
        dir_iter_.reset();
        while (marker_iter_->valid()) {
            std::string_view marker = marker_iter_->key().substr(1);
            std::string root(meta::root_of_marker(marker, bucket_));
            std::string begin =
                keys::with_family(keys::kObject, meta::directory_begin(bucket_, root));
            dir_iter_ =
                open(begin, keys::with_family(keys::kObject, meta::directory_end(bucket_, root)));
            dir_root_ = root;
            if (!from.empty() && from.substr(0, root.size()) == root) {
                dir_iter_->seek(keys::with_family(keys::kObject,
                                                  meta::directory_seek_key(bucket_, root, from)));
            }
            if (dir_iter_->valid() || !dir_iter_->status().is_ok()) return;
            // An emptied directory whose marker is not yet removed: skip it.
            marker_iter_->next();
            from = {};
        }
        dir_iter_.reset();
    }

    void advance_directories() {
        if (dir_iter_ && !dir_iter_->valid() && dir_iter_->status().is_ok()) {
            marker_iter_->next();
            open_directory({});
        }
    }

    void settle() {
        for (auto* it : {root_iter_.get(), marker_iter_.get(), dir_iter_.get()}) {
            if (error_.is_ok() && it && !it->status().is_ok()) error_ = it->status();
        }
        if (!error_.is_ok()) {  // stop: what follows would skip what failed
            current_ = nullptr;
            key_ = {};
            return;
        }
        std::string_view rk, dk;
        bool r = root_iter_ && root_iter_->valid();
        bool d = dir_iter_ && dir_iter_->valid();
        if (r) rk = meta::key_of(root_iter_->key().substr(1), bucket_);
        if (d) dk = meta::key_of(dir_iter_->key().substr(1), bucket_);
        if (r && (!d || rk < dk)) {
            current_ = root_iter_.get();
            key_ = rk;
        } else if (d) {
            current_ = dir_iter_.get();
            key_ = dk;
        } else {
            current_ = nullptr;
            key_ = {};
        }
    }

    storage::Engine& engine_;
    const storage::Snapshot* snapshot_;
    std::string bucket_;
    std::string prefix_;
    std::optional<std::string> single_root_;  // the prefix names one directory
    std::unique_ptr<storage::Iterator> root_iter_;
    std::unique_ptr<storage::Iterator> marker_iter_;
    std::unique_ptr<storage::Iterator> dir_iter_;
    std::string dir_root_;
    storage::Iterator* current_ = nullptr;
    std::string_view key_;
    Status error_ = Status::ok();
};

// The successor of a key in key order: the smallest string greater than it.
std::string key_successor(std::string_view k) {
    std::string s(k);
    s.push_back('\0');
    return s;
}

}  // namespace

storage::IterOptions Reader::range(std::string begin, std::string end) const {
    storage::IterOptions o;
    o.lower_bound = std::move(begin);
    if (!end.empty()) o.upper_bound = std::move(end);
    o.snapshot = snapshot_;
    return o;
}

Result<std::optional<BucketRecord>> Reader::bucket(std::string_view name) {
    return parse_optional<BucketRecord>(engine_.get(keys::bucket(name), snapshot_), "bucket");
}

Result<std::vector<BucketRecord>> Reader::buckets() {
    std::string begin(1, keys::kBucket);
    auto it = engine_.iterate(range(begin, prefix_successor(begin)));
    std::vector<BucketRecord> out;
    for (it->seek_to_first(); it->valid(); it->next()) {
        BucketRecord r;
        if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
            return Status::corruption("unparsable bucket record");
        }
        out.push_back(std::move(r));
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    return out;
}

namespace {

template <typename Record>
Result<std::vector<Record>> parse_all(storage::Iterator& it, const char* what) {
    std::vector<Record> out;
    for (it.seek_to_first(); it.valid(); it.next()) {
        Record r;
        if (!r.ParseFromArray(it.value().data(), static_cast<int>(it.value().size())))
            return Status::corruption(fmt::format("unparsable {} record", what));
        out.push_back(std::move(r));
    }
    CLEAVE_RETURN_IF_ERROR(it.status());
    return out;
}

}  // namespace

Result<std::vector<NodeRecord>> Reader::nodes() {
    const std::string begin(1, keys::kNode);
    auto it = engine_.iterate(range(begin, prefix_successor(begin)));
    return parse_all<NodeRecord>(*it, "node");
}

Result<std::vector<ShardDescriptor>> Reader::shard_map() {
    const std::string begin(1, keys::kShardMap);
    auto it = engine_.iterate(range(begin, prefix_successor(begin)));
    return parse_all<ShardDescriptor>(*it, "shard descriptor");
}

Result<bool> Reader::bucket_is_empty(std::string_view bucket) {
    // Every root directory this shard has held a record of (root_held), not
    // the markers: those sit with the bucket root, on another shard after a
    // split, and this shard's range must be checked all the same.
    const std::string prefix = keys::roots_held_prefix(bucket);
    auto roots = engine_.iterate(range(prefix, prefix_successor(prefix)));
    for (roots->seek_to_first(); roots->valid(); roots->next()) {
        const std::string_view root = roots->key().substr(prefix.size());
        const std::string lo = meta::directory_begin(bucket, root);
        const std::string hi = meta::directory_end(bucket, root);
        for (char family : {keys::kObject, keys::kUpload}) {
            auto [begin, end] = family_cut(family, lo, hi);
            auto it = engine_.iterate(range(std::move(begin), std::move(end)));
            it->seek_to_first();
            CLEAVE_RETURN_IF_ERROR(it->status());
            if (it->valid()) return false;
        }
    }
    CLEAVE_RETURN_IF_ERROR(roots->status());
    return true;
}

Result<std::optional<ObjectRecord>> Reader::object(std::string_view bucket, std::string_view key) {
    return parse_optional<ObjectRecord>(
        engine_.get(keys::with_family(keys::kObject, meta::placement_key(bucket, key)), snapshot_),
        "object record");
}

Result<bool> Reader::dir_marker_exists(std::string_view bucket, std::string_view root) {
    auto raw = engine_.get(keys::with_family(keys::kMarker, meta::dir_marker_key(bucket, root)),
                           snapshot_);
    if (!raw.is_ok()) return raw.status();
    return raw->has_value();
}

Result<ObjectPage> Reader::list_objects(std::string_view bucket, std::string_view prefix,
                                        std::string_view delimiter, std::string_view start_after,
                                        uint32_t max_keys) {
    ObjectPage page;
    if (max_keys == 0) return page;
    BucketKeyStream stream(engine_, snapshot_, bucket, prefix);
    std::string from = start_after.empty() || start_after < prefix ? std::string(prefix)
                                                                   : key_successor(start_after);
    stream.seek(from);
    uint32_t returned = 0;
    while (stream.valid()) {
        std::string_view key = stream.key();
        if (!delimiter.empty()) {
            auto pos = key.find(delimiter, prefix.size());
            if (pos != std::string_view::npos) {
                std::string cp(key.substr(0, pos + delimiter.size()));
                std::string skip_to = prefix_successor(cp);
                if (cp > start_after) {
                    if (returned == max_keys) {
                        page.is_truncated = true;
                        break;
                    }
                    page.common_prefixes.push_back(cp);
                    page.next_start_after = cp;
                    ++returned;
                }
                if (skip_to.empty()) break;  // cp was all 0xff: nothing sorts after it
                stream.seek(skip_to);
                continue;
            }
        }
        if (returned == max_keys) {
            page.is_truncated = true;
            break;
        }
        ListedObject obj;
        obj.key = std::string(key);
        if (!obj.record.ParseFromArray(stream.value().data(),
                                       static_cast<int>(stream.value().size()))) {
            return Status::corruption(
                fmt::format("unparsable object record for key of {} bytes", key.size()));
        }
        page.next_start_after = obj.key;
        page.objects.push_back(std::move(obj));
        ++returned;
        stream.next();
    }
    CLEAVE_RETURN_IF_ERROR(stream.status());
    return page;
}

Result<std::optional<UploadRecord>> Reader::upload(std::string_view bucket, std::string_view key,
                                                   std::string_view upload_id) {
    return parse_optional<UploadRecord>(
        engine_.get(keys::upload(meta::placement_key(bucket, key), upload_id), snapshot_),
        "upload record");
}

Result<std::vector<PartRecord>> Reader::parts(std::string_view bucket, std::string_view key,
                                              std::string_view upload_id, uint32_t marker,
                                              uint32_t max) {
    std::string pk = meta::placement_key(bucket, key);
    std::string prefix = keys::parts_prefix(pk, upload_id);
    auto it = engine_.iterate(range(prefix, prefix_successor(prefix)));
    std::vector<PartRecord> out;
    for (it->seek(keys::part(pk, upload_id, marker + 1)); it->valid() && out.size() < max;
         it->next()) {
        // Exact length: a longer key belongs to another object whose key
        // happens to extend this one's bytes.
        if (it->key().size() != prefix.size() + 4) continue;
        PartRecord p;
        if (!p.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
            return Status::corruption("unparsable part record");
        }
        out.push_back(std::move(p));
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    return out;
}

Result<UploadPage> Reader::list_uploads(std::string_view bucket, std::string_view prefix,
                                        std::string_view delimiter, std::string_view key_marker,
                                        std::string_view upload_id_marker, uint32_t max_uploads) {
    // Uploads are few; they are kept under each object's pk, so a bucket-wide
    // listing scans the bucket's uploads in pk order and sorts by key.
    // TODO(issue 5): route through the directory index like objects do.
    std::vector<ListedUpload> all;
    std::string begin(1, keys::kUpload);
    auto it = engine_.iterate(range(begin, prefix_successor(begin)));
    for (it->seek_to_first(); it->valid(); it->next()) {
        std::string_view k = it->key().substr(1);
        // k = H ‖ bucket ‖ 0x00 ‖ key ‖ 0x00 ‖ upload_id
        if (k.size() < 8 + bucket.size() + 2 + kUploadIdLength) continue;
        if (k.substr(8, bucket.size()) != bucket || k[8 + bucket.size()] != '\0') continue;
        std::string_view key = k.substr(9 + bucket.size());
        key = key.substr(0, key.size() - kUploadIdLength - 1);
        if (key.substr(0, prefix.size()) != prefix) continue;
        ListedUpload u;
        u.key = std::string(key);
        if (!u.record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
            return Status::corruption("unparsable upload record");
        }
        all.push_back(std::move(u));
    }
    CLEAVE_RETURN_IF_ERROR(it->status());
    std::sort(all.begin(), all.end(), [](const ListedUpload& a, const ListedUpload& b) {
        return a.key != b.key ? a.key < b.key : a.record.upload_id() < b.record.upload_id();
    });
    UploadPage page;
    uint32_t returned = 0;
    std::string last_cp;
    for (auto& u : all) {
        if (!key_marker.empty()) {
            if (u.key < key_marker) continue;
            if (u.key == key_marker &&
                (upload_id_marker.empty() || u.record.upload_id() <= upload_id_marker)) {
                continue;
            }
        }
        if (!delimiter.empty()) {
            auto pos = u.key.find(delimiter, prefix.size());
            if (pos != std::string::npos) {
                std::string cp = u.key.substr(0, pos + delimiter.size());
                if (cp == last_cp || cp <= key_marker) continue;
                if (returned == max_uploads) {
                    page.is_truncated = true;
                    break;
                }
                last_cp = cp;
                page.common_prefixes.push_back(cp);
                page.next_key_marker = cp;
                page.next_upload_id_marker.clear();
                ++returned;
                continue;
            }
        }
        if (returned == max_uploads) {
            page.is_truncated = true;
            break;
        }
        page.next_key_marker = u.key;
        page.next_upload_id_marker = u.record.upload_id();
        page.uploads.push_back(std::move(u));
        ++returned;
    }
    return page;
}

Status Reader::for_each_chunk_ref(const std::function<void(const std::string&)>& fn) {
    for (char family : {keys::kObject, keys::kPart}) {
        std::string begin(1, family);
        auto it = engine_.iterate(range(begin, prefix_successor(begin)));
        for (it->seek_to_first(); it->valid(); it->next()) {
            Body body;
            bool ok;
            if (family == keys::kObject) {
                ObjectRecord r;
                ok = r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
                body = r.body();
            } else {
                PartRecord r;
                ok = r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
                body = r.body();
            }
            if (!ok) return Status::corruption("unparsable record during chunk scan");
            for (const auto& c : body.chunks()) fn(c.id());
        }
        CLEAVE_RETURN_IF_ERROR(it->status());
    }
    return Status::ok();
}

}  // namespace cleave::shard
