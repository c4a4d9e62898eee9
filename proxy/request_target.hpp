#pragma once
// Pure parsers for the targets a client names: the authority of CONNECT (RFC 9112 §3.2.3),
// the absolute form of a proxied request (§3.2.2) and the Host header (§3.2). No I/O, so
// they can be fuzzed alone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplens::proxy {

struct host_port {
    std::string host; // lower-cased; IPv6 without brackets
    std::uint16_t port = 0;
};

// "host:port", "[v6]:port", or "host" when default_port is given. Rejects empty hosts,
// characters that cannot appear in a host name, and ports outside 1..65535.
std::optional<host_port> parse_authority(std::string_view text,
                                         std::optional<std::uint16_t> default_port);

struct absolute_target {
    bool tls = false; // https
    host_port authority;
    std::string origin_form; // "/path?query", "/" when empty
};

// "http://host[:port]/path?q" (or https). Anything else, including userinfo, is rejected.
std::optional<absolute_target> parse_absolute_form(std::string_view target);

// Brackets an IPv6 literal for use in an authority or a URL.
std::string authority_text(const host_port& hp);

} // namespace hoplens::proxy
