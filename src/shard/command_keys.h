#pragma once
// What a command acts on, for routing it and for checking that a shard owns
// it: the placement key of an object, upload or part command (the marker's
// for EnsureDirMarker), and its bucket. Bucket commands (the shard's mirror
// of a bucket), meta-shard commands and Split carry no placement key.

#include <optional>
#include <string>

#include "shard/commands.pb.h"

namespace cleave::shard {

std::optional<std::string> command_pk(const Command& c);
// "" for a command without a placement key.
std::string command_bucket(const Command& c);

}  // namespace cleave::shard
