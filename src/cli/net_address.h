#pragma once
// HOST:PORT parsing for command-line addresses.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cleave::cli {

struct HostPort {
    std::string host;
    uint16_t port = 0;
};

// "127.0.0.1:9000", "localhost:0", "[::1]:9000". Port 0 = any free port.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace cleave::cli
