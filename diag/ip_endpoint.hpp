#pragma once
// An IP address and port in one comparable form: IPv4 is kept as IPv4-mapped IPv6
// (::ffff:a.b.c.d), so that an upstream noted as 10.0.0.1:443 matches a TIME_WAIT socket
// that a dual-stack socket left as [::ffff:10.0.0.1]:443.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplens::diag {

struct ip_endpoint {
    std::array<std::uint8_t, 16> address{};
    std::uint16_t port = 0; // host order
    auto operator<=>(const ip_endpoint&) const = default;

    bool is_v4_mapped() const;
    static ip_endpoint from_v4(const std::uint8_t (&bytes)[4], std::uint16_t port);
};

// Accepts numeric IPv4 ("10.0.0.1") and IPv6 ("::1", no brackets) text; rejects names.
std::optional<ip_endpoint> parse_ip_endpoint(std::string_view address, std::uint16_t port);

// "10.0.0.1:443" for IPv4 and mapped addresses, "[::1]:443" for the rest.
std::string to_string(const ip_endpoint& e);

} // namespace hoplens::diag
