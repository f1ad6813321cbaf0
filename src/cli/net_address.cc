#include "cli/net_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
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

namespace {

// Every IPv4 address of `host`, ascending (numerically). A numeric address
// resolves to itself.
Result<std::vector<uint32_t>> ipv4_addresses(const std::string& host) {
    in_addr a{};
    if (::inet_pton(AF_INET, host.c_str(), &a) == 1) return std::vector<uint32_t>{ntohl(a.s_addr)};
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        return Status::invalid_argument(
            fmt::format("cannot resolve '{}': {}", host, ::gai_strerror(rc)));
    }
    std::vector<uint32_t> out;
    for (addrinfo* p = res; p; p = p->ai_next) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(p->ai_addr);
        out.push_back(ntohl(sin->sin_addr.s_addr));
    }
    ::freeaddrinfo(res);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.empty()) return Status::invalid_argument(fmt::format("'{}' has no address", host));
    return out;
}

std::string ipv4_string(uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

}  // namespace

Result<std::vector<HostPort>> resolve_seeds(std::string_view seeds) {
    std::vector<std::string_view> items;
    while (!seeds.empty()) {
        auto comma = seeds.find(',');
        std::string_view item = seeds.substr(0, comma);
        if (!item.empty()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        seeds.remove_prefix(comma + 1);
    }
    if (items.empty()) return Status::invalid_argument("--join names no member");
    std::vector<HostPort> out;
    for (std::string_view item : items) {
        CLEAVE_ASSIGN_OR_RETURN(HostPort hp, parse_host_port(item));
        CLEAVE_ASSIGN_OR_RETURN(auto addrs, ipv4_addresses(hp.host));
        if (items.size() == 1) {
            for (uint32_t a : addrs) out.push_back({ipv4_string(a), hp.port});
        } else {
            out.push_back({ipv4_string(addrs.front()), hp.port});
        }
    }
    for (size_t i = 0; i < out.size(); ++i)
        for (size_t j = i + 1; j < out.size(); ++j)
            if (out[i].host == out[j].host && out[i].port == out[j].port)
                return Status::invalid_argument(
                    fmt::format("--join names {}:{} twice", out[i].host, out[i].port));
    return out;
}

}  // namespace cleave::cli
