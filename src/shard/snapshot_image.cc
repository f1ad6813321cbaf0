#include "shard/snapshot_image.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "shard/record_keys.h"
#include "shard/shard_range.h"
#include "shard/state_machine.h"

namespace cleave::shard {

namespace {

constexpr std::string_view kMagic = "CLVIMG01";
constexpr size_t kTrailerBytes = 8 + 4;  // count be64 | crc32c be32
constexpr size_t kRecordHeaderBytes = 4 + 4;

// The state machine's families.
constexpr std::array<char, 9> kFamilies = {keys::kBucket,   keys::kBucketGone, keys::kRootHeld,
                                           keys::kShardMap, keys::kNode,       keys::kObject,
                                           keys::kPart,     keys::kMarker,     keys::kUpload};

// The one shard-state record an image carries: the shard's range. Without
// it a replica installing an image taken after a split would keep its old
// range, and accept commands the others refuse.
bool is_image_key(std::string_view key) {
    if (key.empty()) return false;
    if (key == range_key()) return true;
    for (char f : kFamilies) {
        if (f == key[0]) return true;
    }
    return false;
}

// The key ranges an image holds, disjoint and in key order (so the image is
// sorted): [f, f+1) for every family, and the range record alone.
const std::vector<std::pair<std::string, std::string>>& image_ranges() {
    static const auto ranges = [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (char f : kFamilies) {
            out.emplace_back(std::string(1, f), std::string(1, static_cast<char>(f + 1)));
        }
        out.emplace_back(range_key(), range_key() + '\0');
        std::sort(out.begin(), out.end());
        return out;
    }();
    return ranges;
}

struct ImageRecord {
    std::string_view key;
    std::string_view value;
};

// Checks the whole image and returns views into it of its records; nothing is
// trusted until the CRC matches and every record is well formed.
Result<std::vector<ImageRecord>> parse_image(std::string_view image) {
    if (image.size() < kMagic.size() + kTrailerBytes) {
        return Status::corruption(
            fmt::format("snapshot image of {} bytes is too short", image.size()));
    }
    if (image.substr(0, kMagic.size()) != kMagic) {
        return Status::corruption("snapshot image has a bad magic");
    }
    const std::string_view covered = image.substr(0, image.size() - 4);
    const uint32_t want_crc = keys::parse_be32(image.substr(image.size() - 4));
    if (crc32c(covered) != want_crc) return Status::corruption("snapshot image CRC mismatch");
    const uint64_t count = keys::parse_be64(image.substr(image.size() - kTrailerBytes, 8));

    std::vector<ImageRecord> records;
    std::string_view rest =
        image.substr(kMagic.size(), image.size() - kMagic.size() - kTrailerBytes);
    std::string_view previous_key;
    while (!rest.empty()) {
        if (rest.size() < kRecordHeaderBytes) {
            return Status::corruption("snapshot image ends inside a record header");
        }
        const uint64_t key_len = keys::parse_be32(rest.substr(0, 4));
        const uint64_t value_len = keys::parse_be32(rest.substr(4, 4));
        rest.remove_prefix(kRecordHeaderBytes);
        if (rest.size() < key_len + value_len) {
            return Status::corruption("snapshot image ends inside a record");
        }
        ImageRecord r{rest.substr(0, key_len), rest.substr(key_len, value_len)};
        rest.remove_prefix(key_len + value_len);
        if (!is_image_key(r.key)) {
            return Status::corruption(
                "snapshot image holds a key outside the state machine's families");
        }
        if (!records.empty() && !(previous_key < r.key)) {
            return Status::corruption("snapshot image keys are not strictly increasing");
        }
        previous_key = r.key;
        records.push_back(r);
    }
    if (records.size() != count) {
        return Status::corruption(fmt::format(
            "snapshot image holds {} records, its trailer says {}", records.size(), count));
    }
    return records;
}

}  // namespace

Result<std::string> build_image(storage::Engine& engine, const storage::Snapshot* snapshot) {
    constexpr uint64_t kMaxField = std::numeric_limits<uint32_t>::max();
    std::string out(kMagic);
    // Reserved up front from the engine's estimate: growing a string of
    // hundreds of MiB by doubling copied it about once more in all, and that
    // copy was most of a snapshot's CPU (perf, small-PUT load).
    uint64_t estimate = 0;
    for (const auto& [begin, end] : image_ranges()) {
        auto size = engine.approximate_size(begin, end);
        if (size.is_ok()) estimate += *size;
    }
    out.reserve(estimate + estimate / 8 + 4096);
    uint64_t count = 0;
    for (const auto& [begin, end] : image_ranges()) {
        auto it = engine.iterate(
            storage::IterOptions{.lower_bound = begin, .upper_bound = end, .snapshot = snapshot});
        for (it->seek_to_first(); it->valid(); it->next()) {
            const std::string_view key = it->key();
            const std::string_view value = it->value();
            if (key.size() > kMaxField || value.size() > kMaxField) {
                return Status(Errc::too_large,
                              fmt::format("record of {}+{} bytes does not fit a snapshot image",
                                          key.size(), value.size()));
            }
            out += keys::be32(static_cast<uint32_t>(key.size()));
            out += keys::be32(static_cast<uint32_t>(value.size()));
            out += key;
            out += value;
            ++count;
        }
        CLEAVE_RETURN_IF_ERROR(it->status());
    }
    out += keys::be64(count);
    out += keys::be32(crc32c(out));
    return out;
}

Status install_image(storage::Engine& engine, std::string_view image, uint64_t applied_index) {
    CLEAVE_ASSIGN_OR_RETURN(auto records, parse_image(image));
    storage::WriteBatch batch;
    // Ops apply in order: the ranges are cleared first, then refilled.
    for (const auto& [begin, end] : image_ranges()) batch.delete_range(begin, end);
    for (const auto& r : records) batch.put(r.key, r.value);
    StateMachine::put_applied_index(batch, applied_index);
    // Synced: the Raft log before applied_index may be compacted as soon as
    // this returns, so the state that replaces it must be durable.
    return engine.write(batch, storage::WriteOptions{.sync = true});
}

}  // namespace cleave::shard
