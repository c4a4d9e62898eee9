#include "diag/ip_endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace hoplens::diag {
namespace {
constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

bool ip_endpoint::is_v4_mapped() const {
    return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), address.begin());
}

ip_endpoint ip_endpoint::from_v4(const std::uint8_t (&bytes)[4], std::uint16_t port) {
    ip_endpoint e;
    std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), e.address.begin());
    std::copy(std::begin(bytes), std::end(bytes), e.address.begin() + 12);
    e.port = port;
    return e;
}

std::optional<ip_endpoint> parse_ip_endpoint(std::string_view address, std::uint16_t port) {
    const std::string text(address);
    std::uint8_t v4[4];
    if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
        return ip_endpoint::from_v4(v4, port);
    }
    ip_endpoint e;
    if (inet_pton(AF_INET6, text.c_str(), e.address.data()) != 1) {
        return std::nullopt;
    }
    e.port = port;
    return e;
}

std::string to_string(const ip_endpoint& e) {
    char buf[INET6_ADDRSTRLEN] = {};
    const bool v4 = e.is_v4_mapped();
    if (v4) {
        inet_ntop(AF_INET, e.address.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, e.address.data(), buf, sizeof buf);
    }
    // Appended piece by piece: g++ 12 warns falsely (-Wrestrict) on "[" + std::string(...).
    std::string text;
    text.append(v4 ? "" : "[").append(buf).append(v4 ? ":" : "]:");
    text.append(std::to_string(e.port));
    return text;
}

} // namespace hoplens::diag
