// --listen, --map, --allow, --diag values: addresses, ports and CIDR ranges.
#include "conf/conf.hpp"
#include "conf/text.hpp"

#include <arpa/inet.h>

#include <array>

namespace hoplens::conf {
namespace {

using detail::is_host_name;
using detail::parse_unsigned;
using detail::to_lower;

std::string quote(std::string_view text) {
    return "'" + std::string(text) + "'";
}

std::string in(std::string_view reason, std::string_view whole) {
    return std::string(reason) + " in " + quote(whole);
}

struct host_port {
    std::string_view host;
    std::optional<std::string_view> port;
    bool bracketed = false;
};

// "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT". An unbracketed host with two or more colons is
// an IPv6 literal whose port could not be told apart from its last group, so it is refused.
std::variant<host_port, std::string> split_host_port(std::string_view text) {
    host_port out;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return std::string("missing ']'");
        }
        out.host = text.substr(1, close - 1);
        out.bracketed = true;
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return "unexpected " + quote(rest) + " after ']'";
            }
            out.port = rest.substr(1);
        }
        return out;
    }
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
        return std::string("IPv6 addresses need brackets, as in [::1]:8080");
    }
    out.host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
        out.port = text.substr(colon + 1);
    }
    return out;
}

std::optional<std::uint16_t> port_number(std::string_view text, std::uint16_t min) {
    const auto value = parse_unsigned(text, 65535);
    if (!value || *value < min) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(*value);
}

std::string bad_port(std::string_view text, std::uint16_t min) {
    return "bad port " + quote(text) + " (expected " + std::to_string(min) + "-65535)";
}

bool is_ipv4(std::string_view text) {
    std::array<unsigned char, 4> bytes{};
    return inet_pton(AF_INET, std::string(text).c_str(), bytes.data()) == 1;
}

bool is_ipv6(std::string_view text) {
    std::array<unsigned char, 16> bytes{};
    return inet_pton(AF_INET6, std::string(text).c_str(), bytes.data()) == 1;
}

// A host as a name or a numeric address; IPv6 only inside brackets.
std::optional<std::string> check_host(const host_port& hp) {
    if (hp.bracketed) {
        if (!is_ipv6(hp.host)) {
            return "bad IPv6 address " + quote(hp.host);
        }
        return std::nullopt;
    }
    if (!is_host_name(hp.host) && !is_ipv4(hp.host)) {
        return "bad host " + quote(hp.host);
    }
    return std::nullopt;
}

std::variant<endpoint, std::string> parse_endpoint_reason(std::string_view text) {
    auto split = split_host_port(text);
    if (auto* reason = std::get_if<std::string>(&split)) {
        return std::move(*reason);
    }
    const auto& hp = std::get<host_port>(split);
    if (hp.host.empty()) {
        return std::string("missing address");
    }
    if (hp.bracketed ? !is_ipv6(hp.host) : !is_ipv4(hp.host)) {
        // Binding needs an address: resolving a name here would pick one family at random.
        return quote(hp.host) + " is not a numeric IPv4 or [IPv6] address";
    }
    if (!hp.port || hp.port->empty()) {
        return std::string("missing port");
    }
    // Port 0 asks the kernel for a free port, which hermetic tests rely on.
    const auto port = port_number(*hp.port, 0);
    if (!port) {
        return bad_port(*hp.port, 0);
    }
    return endpoint{std::string(hp.host), *port};
}

// "https://HOST[:PORT][/]" after "reverse:".
std::optional<std::string> parse_reverse_target(std::string_view target, listen_spec& spec) {
    constexpr std::string_view scheme = "https://";
    if (target.substr(0, scheme.size()) != scheme) {
        return std::string("reverse target must be https://HOST[:PORT]");
    }
    auto authority = target.substr(scheme.size());
    if (!authority.empty() && authority.back() == '/') {
        authority.remove_suffix(1);
    }
    if (authority.find_first_of("/?#@") != std::string_view::npos) {
        return std::string("reverse target takes no path, query or user");
    }
    auto split = split_host_port(authority);
    if (auto* reason = std::get_if<std::string>(&split)) {
        return std::move(*reason);
    }
    const auto& hp = std::get<host_port>(split);
    if (hp.host.empty()) {
        return std::string("reverse target has no host");
    }
    if (auto reason = check_host(hp)) {
        return reason;
    }
    if (hp.port) {
        const auto port = port_number(*hp.port, 1);
        if (!port) {
            return bad_port(*hp.port, 1);
        }
        spec.reverse_port = *port;
    }
    spec.reverse_host = to_lower(hp.host);
    return std::nullopt;
}

} // namespace

std::variant<endpoint, std::string> parse_endpoint(std::string_view text) {
    auto result = parse_endpoint_reason(text);
    if (auto* reason = std::get_if<std::string>(&result)) {
        return in(*reason, text);
    }
    return result;
}

std::variant<listen_spec, std::string> parse_listen(std::string_view text) {
    const auto at = text.rfind('@');
    if (at == std::string_view::npos) {
        return in("expected MODE@ADDR:PORT", text);
    }
    listen_spec spec;
    spec.text = std::string(text);
    const auto mode = text.substr(0, at);
    constexpr std::string_view reverse_prefix = "reverse:";
    if (mode == "explicit") {
        spec.mode = listen_mode::explicit_proxy;
    } else if (mode == "sni") {
        spec.mode = listen_mode::sni;
    } else if (mode == "http") {
        spec.mode = listen_mode::http;
    } else if (mode == "reverse") {
        return in("reverse mode needs a target, as in reverse:https://HOST[:PORT]", text);
    } else if (mode.substr(0, reverse_prefix.size()) == reverse_prefix) {
        spec.mode = listen_mode::reverse;
        if (auto reason = parse_reverse_target(mode.substr(reverse_prefix.size()), spec)) {
            return in(*reason, text);
        }
    } else {
        return in("unknown mode " + quote(mode) + " (expected explicit, sni, http or " +
                      "reverse:https://HOST[:PORT])",
                  text);
    }
    auto bind = parse_endpoint_reason(text.substr(at + 1));
    if (auto* reason = std::get_if<std::string>(&bind)) {
        return in(*reason, text);
    }
    spec.bind = std::get<endpoint>(std::move(bind));
    return spec;
}

std::variant<host_mapping, std::string> parse_map(std::string_view text) {
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        return in("expected HOST=ADDR[:PORT]", text);
    }
    host_mapping out;
    const auto host = text.substr(0, eq);
    if (!is_host_name(host)) {
        return in("bad host name " + quote(host), text);
    }
    out.host = to_lower(host);
    auto split = split_host_port(text.substr(eq + 1));
    if (auto* reason = std::get_if<std::string>(&split)) {
        return in(*reason, text);
    }
    const auto& hp = std::get<host_port>(split);
    if (hp.host.empty()) {
        return in("missing ADDR", text);
    }
    if (auto reason = check_host(hp)) {
        return in(*reason, text);
    }
    out.address = to_lower(hp.host);
    if (hp.port) {
        const auto port = port_number(*hp.port, 1);
        if (!port) {
            return in(bad_port(*hp.port, 1), text);
        }
        out.port = *port;
    }
    return out;
}

std::variant<cidr, std::string> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    cidr out;
    out.text = std::string(text);
    std::array<std::uint8_t, 16> bytes{};
    if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
        out.bytes.assign(bytes.begin(), bytes.begin() + 4);
    } else if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
        out.bytes.assign(bytes.begin(), bytes.end());
    } else {
        return in("bad address " + quote(address), text);
    }
    const unsigned max_bits = static_cast<unsigned>(out.bytes.size() * 8);
    out.prefix_bits = max_bits;
    if (slash != std::string_view::npos) {
        const auto bits_text = text.substr(slash + 1);
        const auto bits = parse_unsigned(bits_text, max_bits);
        if (!bits) {
            return in("bad prefix length " + quote(bits_text) + " (expected 0-" +
                          std::to_string(max_bits) + ")",
                      text);
        }
        out.prefix_bits = static_cast<unsigned>(*bits);
    }
    // Host bits set ("10.0.0.1/8") usually mean a typo in the prefix, so say so, not guess.
    for (unsigned bit = out.prefix_bits; bit < max_bits; ++bit) {
        if (out.bytes[bit / 8] & (0x80u >> (bit % 8))) {
            return in("host bits set after /" + std::to_string(out.prefix_bits), text);
        }
    }
    return out;
}

bool cidr_contains(const cidr& range, const std::uint8_t* address, std::size_t address_bytes) {
    // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
    static constexpr std::array<std::uint8_t, 12> v4_mapped{0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
    if (range.bytes.size() == 4 && address_bytes == 16 &&
        std::equal(v4_mapped.begin(), v4_mapped.end(), address)) {
        address += 12;
        address_bytes = 4;
    }
    if (address_bytes != range.bytes.size()) {
        return false;
    }
    for (unsigned bit = 0; bit < range.prefix_bits; ++bit) {
        const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        if ((address[bit / 8] & mask) != (range.bytes[bit / 8] & mask)) {
            return false;
        }
    }
    return true;
}

std::string_view to_string(listen_mode mode) {
    switch (mode) {
    case listen_mode::explicit_proxy:
        return "explicit";
    case listen_mode::sni:
        return "sni";
    case listen_mode::http:
        return "http";
    case listen_mode::reverse:
        return "reverse";
    }
    return "?";
}

} // namespace hoplens::conf
