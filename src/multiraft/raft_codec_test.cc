#include "multiraft/raft_codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <set>

#include "common/random.h"
#include "multiraft/raft.pb.h"

namespace cleave::multiraft {
namespace {

using raft::Configuration;
using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Message;
using raft::MessageType;
using raft::SnapshotMeta;

constexpr MessageType kAllTypes[] = {
    MessageType::append,
    MessageType::append_response,
    MessageType::vote,
    MessageType::vote_response,
    MessageType::pre_vote,
    MessageType::pre_vote_response,
    MessageType::heartbeat,
    MessageType::heartbeat_response,
    MessageType::install_snapshot,
    MessageType::read_index,
    MessageType::read_index_response,
    MessageType::timeout_now,
};

uint64_t test_seed(uint64_t fallback) {
    const char* env = std::getenv("CLEAVE_SEED");
    const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : fallback;
    std::cout << "seed " << seed << " (replay with CLEAVE_SEED=" << seed << ")\n";
    return seed;
}

Configuration joint_config() {
    Configuration c;
    c.voters = {NodeId(1), NodeId(2), NodeId(4)};
    c.voters_outgoing = {NodeId(1), NodeId(2), NodeId(3)};
    c.learners = {NodeId(9), NodeId(~0ULL)};
    return c;
}

// Message has no operator== (it holds a snapshot pointer): compare every
// field, and the snapshot by its metadata, expecting its data dropped.
void expect_same(const Message& want, const Message& got) {
    EXPECT_EQ(want.type, got.type);
    EXPECT_EQ(want.group, got.group);
    EXPECT_EQ(want.from, got.from);
    EXPECT_EQ(want.to, got.to);
    EXPECT_EQ(want.term, got.term);
    EXPECT_EQ(want.log_index, got.log_index);
    EXPECT_EQ(want.log_term, got.log_term);
    EXPECT_EQ(want.commit, got.commit);
    EXPECT_EQ(want.entries, got.entries);
    ASSERT_EQ(want.snapshot != nullptr, got.snapshot != nullptr);
    if (want.snapshot) {
        EXPECT_EQ(want.snapshot->meta, got.snapshot->meta);
        EXPECT_TRUE(got.snapshot->data.empty());
    }
    EXPECT_EQ(want.reject, got.reject);
    EXPECT_EQ(want.reject_hint, got.reject_hint);
    EXPECT_EQ(want.reject_term, got.reject_term);
    EXPECT_EQ(want.context, got.context);
    EXPECT_EQ(want.force, got.force);
}

Message round_trip(const Message& m) {
    auto r = decode_message(encode_message(m));
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : Message{};
}

// A message of `type` with the fields that type uses set to distinctive values.
Message sample(MessageType type) {
    Message m;
    m.type = type;
    m.group = GroupId(77);
    m.from = NodeId(1);
    m.to = NodeId(2);
    m.term = Term(5);
    switch (type) {
        case MessageType::append:
            m.log_index = Index(10);
            m.log_term = Term(4);
            m.commit = Index(9);
            m.entries.push_back({Term(5), Index(11), EntryType::noop, {}, {}});
            m.entries.push_back({Term(5), Index(12), EntryType::command, "put k v", {}});
            m.entries.push_back({Term(5), Index(13), EntryType::configuration, {}, joint_config()});
            break;
        case MessageType::append_response:
            m.log_index = Index(13);
            m.reject = true;
            m.reject_hint = Index(8);
            m.reject_term = Term(3);
            break;
        case MessageType::vote:
        case MessageType::pre_vote:
            m.log_index = Index(13);
            m.log_term = Term(5);
            m.force = true;
            break;
        case MessageType::vote_response:
        case MessageType::pre_vote_response:
            m.reject = true;
            break;
        case MessageType::heartbeat:
        case MessageType::heartbeat_response:
            m.commit = Index(12);
            m.context = 42;
            break;
        case MessageType::install_snapshot: {
            auto snap = std::make_shared<raft::Snapshot>();
            snap->meta = SnapshotMeta{Index(100), Term(4), joint_config()};
            snap->data = "state machine image";
            m.snapshot = snap;
            break;
        }
        case MessageType::read_index:
            m.context = 0xdeadbeefcafeULL;
            break;
        case MessageType::read_index_response:
            m.log_index = Index(13);
            m.context = 0xdeadbeefcafeULL;
            break;
        case MessageType::timeout_now:
            break;
    }
    return m;
}

TEST(RaftCodec, EveryMessageTypeRoundTrips) {
    for (MessageType type : kAllTypes) {
        SCOPED_TRACE(std::string(raft::message_type_name(type)));
        Message m = sample(type);
        expect_same(m, round_trip(m));
    }
}

TEST(RaftCodec, DefaultMessageRoundTrips) {
    Message m;
    expect_same(m, round_trip(m));
}

TEST(RaftCodec, ExtremeValuesRoundTrip) {
    Message m = sample(MessageType::append);
    m.group = GroupId(~0ULL);
    m.from = NodeId(~0ULL);
    m.to = NodeId(0);
    m.term = Term(~0ULL);
    m.log_index = Index(~0ULL);
    m.log_term = Term(~0ULL);
    m.commit = Index(~0ULL);
    m.reject_hint = Index(~0ULL);
    m.reject_term = Term(~0ULL);
    m.context = ~0ULL;
    m.entries[1].data = std::string("\0\xff\x80 binary\0", 11);
    expect_same(m, round_trip(m));
}

TEST(RaftCodec, SnapshotTravelsAsMetadataOnly) {
    Message m = sample(MessageType::install_snapshot);
    auto big = std::make_shared<raft::Snapshot>(*m.snapshot);
    big->data.assign(1 << 20, 'x');
    m.snapshot = big;
    const std::string bytes = encode_message(m);
    EXPECT_LT(bytes.size(), 200u);  // not the megabyte of data
    expect_same(m, round_trip(m));
}

TEST(RaftCodec, EntriesOfEveryTypeRoundTripWithEquality) {
    const Entry entries[] = {
        {Term(1), Index(1), EntryType::noop, {}, {}},
        {Term(2), Index(2), EntryType::command, std::string("a\0b", 3), {}},
        {Term(3), Index(3), EntryType::configuration, {}, joint_config()},
        {Term(0), Index(0), EntryType::command, {}, {}},
        // Nothing forbids both data and config in the struct; both survive.
        {Term(4), Index(4), EntryType::command, "data", joint_config()},
    };
    for (const Entry& e : entries) {
        auto got = decode_entry(encode_entry(e));
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        EXPECT_EQ(e, *got);
        EXPECT_TRUE(e == *got);
    }
}

TEST(RaftCodec, HardStateAndSnapshotMetaRoundTrip) {
    for (const HardState& h : {HardState{}, HardState{Term(7), NodeId(3), Index(99)},
                               HardState{Term(~0ULL), NodeId(~0ULL), Index(~0ULL)}}) {
        auto got = decode_hard_state(encode_hard_state(h));
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        EXPECT_TRUE(h == *got);
    }
    for (const SnapshotMeta& m :
         {SnapshotMeta{}, SnapshotMeta{Index(5), Term(2), joint_config()}}) {
        auto got = decode_snapshot_meta(encode_snapshot_meta(m));
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        EXPECT_EQ(m, *got);
    }
}

TEST(RaftCodec, BatchKeepsOrderAcrossGroups) {
    std::vector<Message> batch;
    for (MessageType type : kAllTypes) {
        Message m = sample(type);
        m.group = GroupId(batch.size() + 1);
        batch.push_back(m);
    }
    auto got = decode_batch(encode_batch(batch));
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) expect_same(batch[i], (*got)[i]);

    auto none = decode_batch(encode_batch({}));
    ASSERT_TRUE(none.is_ok()) << none.status().to_string();
    EXPECT_TRUE(none->empty());
}

// ---------------------------------------------------------------- random --

std::set<NodeId> random_ids(Random& rng) {
    std::set<NodeId> ids;
    const uint64_t n = rng.uniform(6);
    for (uint64_t i = 0; i < n; ++i)
        ids.insert(NodeId(rng.chance(1, 8) ? rng.next_u64() : rng.uniform(10)));
    return ids;
}

Configuration random_config(Random& rng) {
    Configuration c;
    c.voters = random_ids(rng);
    c.voters_outgoing = random_ids(rng);
    c.learners = random_ids(rng);
    return c;
}

// Small values mostly (varints of every length), now and then the full range.
uint64_t random_u64(Random& rng) {
    switch (rng.uniform(4)) {
        case 0:
            return 0;
        case 1:
            return rng.uniform(300);
        case 2:
            return rng.next_u64() >> rng.uniform(64);
        default:
            return rng.next_u64();
    }
}

std::string random_bytes(Random& rng, size_t max) {
    std::string s(rng.uniform(max + 1), '\0');
    for (auto& c : s) c = static_cast<char>(rng.uniform(256));
    return s;
}

Entry random_entry(Random& rng) {
    Entry e;
    e.term = Term(random_u64(rng));
    e.index = Index(random_u64(rng));
    e.type = static_cast<EntryType>(rng.uniform(3));
    if (rng.chance(2, 3)) e.data = random_bytes(rng, 64);
    if (rng.chance(1, 3)) e.config = random_config(rng);
    return e;
}

Message random_message(Random& rng) {
    Message m;
    m.type = kAllTypes[rng.uniform(std::size(kAllTypes))];
    m.group = GroupId(random_u64(rng));
    m.from = NodeId(random_u64(rng));
    m.to = NodeId(random_u64(rng));
    m.term = Term(random_u64(rng));
    m.log_index = Index(random_u64(rng));
    m.log_term = Term(random_u64(rng));
    m.commit = Index(random_u64(rng));
    const uint64_t n = rng.uniform(5);
    for (uint64_t i = 0; i < n; ++i) m.entries.push_back(random_entry(rng));
    if (rng.chance(1, 4)) {
        auto snap = std::make_shared<raft::Snapshot>();
        snap->meta =
            SnapshotMeta{Index(random_u64(rng)), Term(random_u64(rng)), random_config(rng)};
        snap->data = random_bytes(rng, 32);
        m.snapshot = snap;
    }
    m.reject = rng.chance(1, 2);
    m.reject_hint = Index(random_u64(rng));
    m.reject_term = Term(random_u64(rng));
    m.context = random_u64(rng);
    m.force = rng.chance(1, 2);
    return m;
}

TEST(RaftCodec, RandomRoundTrips) {
    Random rng(test_seed(0x0C0DEC01));
    for (int i = 0; i < 2000; ++i) {
        SCOPED_TRACE(i);
        const Message m = random_message(rng);
        expect_same(m, round_trip(m));

        const Entry e = random_entry(rng);
        auto entry = decode_entry(encode_entry(e));
        ASSERT_TRUE(entry.is_ok()) << entry.status().to_string();
        EXPECT_EQ(e, *entry);

        const HardState h{Term(random_u64(rng)), NodeId(random_u64(rng)), Index(random_u64(rng))};
        auto hs = decode_hard_state(encode_hard_state(h));
        ASSERT_TRUE(hs.is_ok()) << hs.status().to_string();
        EXPECT_EQ(h, *hs);

        const SnapshotMeta sm{Index(random_u64(rng)), Term(random_u64(rng)), random_config(rng)};
        auto meta = decode_snapshot_meta(encode_snapshot_meta(sm));
        ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
        EXPECT_EQ(sm, *meta);
    }
    for (int i = 0; i < 200; ++i) {
        std::vector<Message> batch(rng.uniform(20));
        for (auto& m : batch) m = random_message(rng);
        auto got = decode_batch(encode_batch(batch));
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        ASSERT_EQ(got->size(), batch.size());
        for (size_t j = 0; j < batch.size(); ++j) expect_same(batch[j], (*got)[j]);
    }
}

// ---------------------------------------------------------------- damage --

bool is_decode_error(const Status& s) {
    return s.code() == Errc::corruption || s.code() == Errc::invalid_argument;
}

TEST(RaftCodec, UnknownOrMissingEnumsAreCorruption) {
    pb::Message unknown_type;
    unknown_type.set_type(static_cast<pb::MessageType>(99));
    auto m = decode_message(unknown_type.SerializeAsString());
    ASSERT_FALSE(m.is_ok());
    EXPECT_EQ(m.status().code(), Errc::corruption) << m.status().to_string();

    // A zero-length input parses as an all-default message: no type.
    auto empty = decode_message("");
    ASSERT_FALSE(empty.is_ok());
    EXPECT_EQ(empty.status().code(), Errc::corruption);

    pb::Entry untyped;
    untyped.set_index(3);
    auto e = decode_entry(untyped.SerializeAsString());
    ASSERT_FALSE(e.is_ok());
    EXPECT_EQ(e.status().code(), Errc::corruption);

    // A bad entry inside an otherwise good message poisons the message and
    // the batch it travels in.
    pb::Message with_bad_entry;
    with_bad_entry.set_type(pb::MSG_APPEND);
    with_bad_entry.add_entries()->set_type(static_cast<pb::EntryType>(-3));
    EXPECT_EQ(decode_message(with_bad_entry.SerializeAsString()).status().code(), Errc::corruption);
    pb::MessageBatch batch;
    batch.add_messages()->set_type(pb::MSG_HEARTBEAT);
    *batch.add_messages() = with_bad_entry;
    EXPECT_EQ(decode_batch(batch.SerializeAsString()).status().code(), Errc::corruption);
}

TEST(RaftCodec, RepeatedNodeInConfigurationIsCorruption) {
    pb::SnapshotMeta meta;
    meta.mutable_config()->add_voters(1);
    meta.mutable_config()->add_voters(1);
    auto got = decode_snapshot_meta(meta.SerializeAsString());
    ASSERT_FALSE(got.is_ok());
    EXPECT_EQ(got.status().code(), Errc::corruption);
}

TEST(RaftCodec, MalformedBytesAreCorruption) {
    // Field 1, varint, with the varint cut off.
    EXPECT_EQ(decode_message("\x08\x80").status().code(), Errc::corruption);
    // Field 4 (data), length-delimited, claiming 100 bytes that are not there.
    EXPECT_EQ(decode_entry("\x22\x64zz").status().code(), Errc::corruption);
    // Wire type 7 does not exist.
    EXPECT_EQ(decode_hard_state("\x0f").status().code(), Errc::corruption);
    EXPECT_EQ(decode_batch("\x0a\x05\x08").status().code(), Errc::corruption);
}

// Garbage may happen to parse (protobuf is permissive), but decoding it must
// never crash, and an error is always a decode error.
TEST(RaftCodec, GarbageNeverCrashes) {
    Random rng(test_seed(0x6A4BA6E));
    const std::string good =
        encode_batch({sample(MessageType::append), sample(MessageType::install_snapshot)});
    int errors = 0;
    for (int i = 0; i < 5000; ++i) {
        std::string bytes;
        switch (rng.uniform(3)) {
            case 0:
                bytes = random_bytes(rng, 64);
                break;
            case 1:  // truncated
                bytes = good.substr(0, rng.uniform(good.size()));
                break;
            default:  // bit flips
                bytes = good;
                for (uint64_t f = 1 + rng.uniform(4); f > 0; --f) {
                    bytes[rng.uniform(bytes.size())] ^= static_cast<char>(1 << rng.uniform(8));
                }
                break;
        }
        const Status statuses[] = {
            decode_message(bytes).status(),       decode_batch(bytes).status(),
            decode_entry(bytes).status(),         decode_hard_state(bytes).status(),
            decode_snapshot_meta(bytes).status(),
        };
        for (const Status& s : statuses) {
            if (s.is_ok()) continue;
            ++errors;
            EXPECT_TRUE(is_decode_error(s)) << s.to_string();
        }
    }
    EXPECT_GT(errors, 0);  // the damage was noticed at least sometimes
}

}  // namespace
}  // namespace cleave::multiraft
