#pragma once
// Stable, compact text forms of Raft values for simulator traces and the
// data-driven tests' expected output. Changing them changes every golden file.

#include <string>

#include "raft/fsm.h"
#include "raft/messages.h"
#include "raft/types.h"

namespace cleave::sim {

std::string format_config(const raft::Configuration& config);
std::string format_entry(const raft::Entry& entry);
std::string format_message(const raft::Message& m);
// "2 leader t3 last=5/3 commit=5 applied=5 snap=0" and the configuration.
std::string format_status(const raft::Fsm& fsm);

}  // namespace cleave::sim
