#include "cli/net_address.h"

#include <charconv>

namespace cleave::cli {

Result<HostPort> parse_host_port(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
        return Status::invalid_argument(fmt::format("'{}' is not HOST:PORT", text));
    }
    HostPort hp;
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
        hp.host = hp.host.substr(1, hp.host.size() - 2);
    }
    std::string_view port = text.substr(colon + 1);
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value > 65535) {
        return Status::invalid_argument(fmt::format("'{}' is not a port number", port));
    }
    hp.port = static_cast<uint16_t>(value);
    return hp;
}

}  // namespace cleave::cli
