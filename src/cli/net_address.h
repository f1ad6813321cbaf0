#pragma once
// HOST:PORT parsing for command-line addresses.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cleave::cli {

struct HostPort {
    std::string host;
    uint16_t port = 0;
};

// "127.0.0.1:9000", "localhost:0", "[::1]:9000". Port 0 = any free port.
Result<HostPort> parse_host_port(std::string_view text);

// The members named by `cleave server --join`: comma-separated HOST:PORT
// items in the order given, each host resolved to its (first IPv4) address;
// or a single name with several addresses, which stands for all of them in
// ascending address order (a headless Kubernetes service, round-robin DNS).
Result<std::vector<HostPort>> resolve_seeds(std::string_view seeds);

}  // namespace cleave::cli
