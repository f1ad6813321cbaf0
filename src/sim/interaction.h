#pragma once
// Data-driven interaction tests (after etcd's rafttest): a script of steps
// and the trace each step must print, in one text file:
//
//   # Comments and blank lines are kept as they are.
//   > cluster voters=1,2,3 prevote=false
//   > campaign 1
//   > deliver
//   1->2 MsgVote t1 last=0/0
//   ...
//
// Lines starting with "> " are steps; the lines after a step, up to the next
// step, comment or blank line, are its expected output. Running a script
// produces the same text with the actual output; the test compares the two,
// and CLEAVE_REWRITE=1 writes the actual text back (review the diff!).
//
// Steps:
//   cluster voters=1,2,3 [nodes=4,5] [prevote=B] [checkquorum=B] [lease=B]
//           [batch=N] [inflight=N] [trailing=N] [seed=N]     must come first
//   campaign N | tick K [N...] | deliver [max] | propose N VALUE | read N
//   partition A B | C [| ...] | isolate N | heal | crash N | restart N
//   snapshot N | transfer N TARGET | config N voters=1,2 [learners=3]
//   status [N...] | log N

#include <string>

namespace cleave::sim {

std::string run_interaction(const std::string& script);

}  // namespace cleave::sim
