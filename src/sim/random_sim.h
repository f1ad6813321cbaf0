#pragma once
// Randomized simulation of one seed: a random group size, random Raft
// options, a random fault schedule (drops, delays, duplicates, reordering,
// partitions, crashes with torn unsynced tails, restarts) and random client
// work (writes, leader and follower reads, membership changes, leadership
// transfers, snapshots); then the faults heal and the group must make
// progress within a bounded number of ticks. Everything derives from the
// seed: the same seed gives the same trace, byte for byte.

#include <cstdint>
#include <string>

namespace cleave::sim {

struct SimParams {
    uint32_t fault_ticks = 1500;    // ticks of the faulty phase
    uint32_t liveness_ticks = 600;  // bound on recovery after healing
    int planted_bug = 0;            // raft::PlantedBug; needs CLEAVE_PLANT_RAFT_BUGS
};

struct SeedResult {
    uint64_t seed = 0;
    bool ok = true;
    std::string failure;  // the violation, with context
    std::string summary;  // one line: options and counts
};

// Runs one seed. When `trace` is set, every event is appended to it.
SeedResult run_seed(uint64_t seed, const SimParams& params, std::string* trace = nullptr);

// The command line that replays `seed` with its trace.
std::string replay_command(uint64_t seed, const SimParams& params);

}  // namespace cleave::sim
