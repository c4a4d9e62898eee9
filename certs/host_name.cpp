// Host names that may go into a leaf certificate.
//
// The name comes from an untrusted client (the TLS SNI or the CONNECT line) and ends up in a
// certificate's subject and SAN, in the cache key, in logs and in capture files. Like
// haproxy's ssl_sock_sni_is_valid (src/ssl_gencert.c) we accept only the characters a host
// name can have: a control character, '/', ',' or '=' could inject fields into a subject or
// a log line; '*' would mint a wildcard certificate valid for a whole domain; a name longer
// than 253 bytes is no DNS name (RFC 1035 2.3.4) and only bloats the cache; non-ASCII bytes
// are refused because clients send IDNs as A-labels ("xn--...", RFC 5890).
#include "certs/openssl_util.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace hoplens::certs {

namespace {

constexpr std::size_t max_name = 253;
constexpr std::size_t max_label = 63;

error invalid(std::string_view why) {
    return error{errc::invalid_name, std::string(why)};
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Strict dotted quad: four decimal parts 0-255 without leading zeros ("010" could mean 8).
bool parse_ipv4(std::string_view text, std::array<std::uint8_t, 4>& out) {
    for (std::size_t part = 0; part < 4; ++part) {
        const std::size_t end = part < 3 ? text.find('.') : text.size();
        if (end == std::string_view::npos) {
            return false;
        }
        const std::string_view digits = text.substr(0, end);
        if (digits.empty() || digits.size() > 3 ||
            !std::all_of(digits.begin(), digits.end(), is_digit) ||
            (digits.size() > 1 && digits[0] == '0')) {
            return false;
        }
        int value = 0;
        for (const char c : digits) {
            value = value * 10 + (c - '0');
        }
        if (value > 255) {
            return false;
        }
        out[part] = static_cast<std::uint8_t>(value);
        text.remove_prefix(part < 3 ? end + 1 : end);
    }
    return true;
}

std::string ipv4_text(const std::array<std::uint8_t, 4>& a) {
    std::array<char, 16> text{};
    std::snprintf(text.data(), text.size(), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return text.data();
}

// RFC 5952 section 4: lower-case hex, no leading zeros, the longest run (first on a tie) of
// two or more zero groups written as "::".
std::string ipv6_text(const unsigned char* bytes) {
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < 8; ++i) {
        groups[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];
    }
    std::size_t best_start = 8, best_size = 0;
    for (std::size_t i = 0; i < 8;) {
        std::size_t j = i;
        while (j < 8 && groups[j] == 0) {
            ++j;
        }
        if (j - i > best_size && j - i >= 2) {
            best_start = i;
            best_size = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    std::string out;
    for (std::size_t i = 0; i < 8; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_size - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') {
            out += ':';
        }
        std::array<char, 8> group{};
        std::snprintf(group.data(), group.size(), "%x", groups[i]);
        out += group.data();
    }
    return out;
}

result<host_name> parse_ipv6(std::string_view text) {
    // a2i_IPADDRESS is lenient about what surrounds the address; only hex digits, ':' and
    // '.' (an embedded IPv4 tail) may reach it. A zone id ("%eth0") has no place in a SAN.
    const bool charset_ok = std::all_of(text.begin(), text.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
               c == '.';
    });
    const std::string copy(text);
    detail::asn1_octet_string_ptr address(charset_ok ? a2i_IPADDRESS(copy.c_str()) : nullptr);
    if (!address || ASN1_STRING_length(address.get()) != 16) {
        ERR_clear_error();
        return invalid("not a valid IPv6 address");
    }
    const unsigned char* bytes = ASN1_STRING_get0_data(address.get());
    return host_name{name_kind::ip, ipv6_text(bytes), std::vector<std::uint8_t>(bytes, bytes + 16)};
}

bool is_label_char(char c) {
    // '_' is not LDH, but real hosts use it (service names, some CDNs); it cannot inject.
    return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
}

} // namespace

result<host_name> parse_host_name(std::string_view name) {
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
        return parse_ipv6(name.substr(1, name.size() - 2));
    }
    if (name.find(':') != std::string_view::npos) {
        return parse_ipv6(name);
    }
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1); // the root label: "example.com." is "example.com"
    }
    if (name.empty()) {
        return invalid("empty host name");
    }
    if (name.size() > max_name) {
        return invalid("host name longer than 253 bytes");
    }
    std::string text(name);
    std::transform(text.begin(), text.end(), text.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    const std::string_view last_label = std::string_view(text).substr(text.rfind('.') + 1);
    // A numeric last label means an IPv4 literal: no top-level domain is all digits, so
    // "1.2.3.999" is a bad address, not a host name.
    if (!last_label.empty() && std::all_of(last_label.begin(), last_label.end(), is_digit)) {
        std::array<std::uint8_t, 4> address{};
        if (!parse_ipv4(text, address)) {
            return invalid("not a valid IPv4 address");
        }
        return host_name{name_kind::ip, ipv4_text(address),
                         std::vector<std::uint8_t>(address.begin(), address.end())};
    }
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find('.', start), text.size());
        const std::string_view label = std::string_view(text).substr(start, end - start);
        if (label.empty()) {
            return invalid("empty label in host name");
        }
        if (label.size() > max_label) {
            return invalid("label longer than 63 bytes in host name");
        }
        if (!std::all_of(label.begin(), label.end(), is_label_char)) {
            return invalid("host name has a character other than letters, digits, '-', '_', '.'");
        }
        if (label.front() == '-' || label.back() == '-') {
            return invalid("host name label starts or ends with '-'");
        }
        start = end + 1;
    }
    return host_name{name_kind::dns, std::move(text), {}};
}

} // namespace hoplens::certs
