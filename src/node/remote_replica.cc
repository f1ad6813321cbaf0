#include "node/remote_replica.h"

#include <algorithm>
#include <set>
#include <thread>

#include "node/raft_replica.h"
#include "node/shard_group.h"

namespace cleave::node {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr milliseconds kElectionPause{50};
}  // namespace

Result<shard::ApplyOutcome> RemoteReplica::propose(shard::Command command) {
    const std::string bytes = command.SerializeAsString();
    const std::string request = forward_request(group_, bytes);
    const auto deadline = Clock::now() + propose_timeout_;
    std::vector<uint64_t> replicas = replicas_();
    size_t next = 0;  // the replica to try when no leader is known
    Status last = Status(Errc::not_leader, "no leader known");
    std::set<uint64_t> not_hosting;  // replicas that answered: no such group here
    while (true) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left <= milliseconds(0) || replicas.empty()) {
            // Never "not found" to the caller: it would read as a missing key.
            if (last.code() == Errc::not_found) return Status::unavailable(last.message());
            return last;
        }
        if (not_hosting.size() >= replicas.size()) {
            // None of the replicas the route names hosts the shard (moved
            // away since the route was read): the caller reads the map again.
            return Status(Errc::stale_epoch,
                          fmt::format("no replica named for shard {} hosts it", group_.value()));
        }
        uint64_t target = leader_.load();
        if (target == 0) target = replicas[next++ % replicas.size()];
        bool sent = false;
        Result<std::string> r = Status(Errc::not_leader, "not tried");
        if (target == self_ && here_) {
            r = here_(bytes);
            sent = true;
        } else {
            r = remote_.call_if_connected(target, request, left, &sent);
        }
        if (r.is_ok()) {
            leader_.store(target);
            return decode_outcome(*r);
        }
        // not_found: the node hosts no replica of the group (yet: a split's
        // new group starts on its replicas one by one) - certainly not applied.
        if (sent && r.status().code() != Errc::not_leader && r.status().code() != Errc::not_found) {
            leader_.store(0);  // in doubt; whoever leads next is found afresh
            return r.status();
        }
        // Certainly not applied: follow the replica's hint, or ask the next.
        last = r.status();
        if (sent && r.status().code() == Errc::not_found) {
            not_hosting.insert(target);
            // The map may have moved on meanwhile: ask the replicas it names now.
            replicas = replicas_();
            std::erase_if(not_hosting, [&](uint64_t n) {
                return std::find(replicas.begin(), replicas.end(), n) == replicas.end();
            });
        }
        const uint64_t hint = sent ? leader_hint_of(r.status()).value() : 0;
        leader_.store(hint != target ? hint : 0);
        if (hint == 0 && next % replicas.size() == 0) std::this_thread::sleep_for(kElectionPause);
    }
}

}  // namespace cleave::node
