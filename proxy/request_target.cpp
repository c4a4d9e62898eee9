#include "proxy/request_target.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace hoplens::proxy {

namespace {

// A host is a reg-name or an IP literal; anything that could split a URL or a header line
// (spaces, '/', '@', controls) is refused so that it can never be smuggled further.
bool valid_host_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == ':' || c == '%';
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

} // namespace

std::optional<host_port> parse_authority(std::string_view text,
                                         std::optional<std::uint16_t> default_port) {
    std::string_view host;
    std::string_view port_text;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return std::nullopt;
            }
            port_text = rest.substr(1);
            has_port = true;
        }
        if (host.find(':') == std::string_view::npos) {
            return std::nullopt;
        }
    } else {
        const auto colon = text.rfind(':');
        if (colon != std::string_view::npos) {
            host = text.substr(0, colon);
            port_text = text.substr(colon + 1);
            has_port = true;
            if (host.find(':') != std::string_view::npos) {
                return std::nullopt; // an unbracketed IPv6 literal is ambiguous
            }
        } else {
            host = text;
        }
    }
    if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), valid_host_char)) {
        return std::nullopt;
    }
    host_port out{lower(host), 0};
    if (has_port) {
        const auto port = parse_port(port_text);
        if (!port) {
            return std::nullopt;
        }
        out.port = *port;
    } else if (default_port) {
        out.port = *default_port;
    } else {
        return std::nullopt;
    }
    return out;
}

std::optional<absolute_target> parse_absolute_form(std::string_view target) {
    absolute_target out;
    constexpr std::string_view http = "http://";
    constexpr std::string_view https = "https://";
    auto starts_with_ci = [&](std::string_view prefix) {
        return target.size() >= prefix.size() && lower(target.substr(0, prefix.size())) == prefix;
    };
    if (starts_with_ci(http)) {
        target.remove_prefix(http.size());
    } else if (starts_with_ci(https)) {
        target.remove_prefix(https.size());
        out.tls = true;
    } else {
        return std::nullopt;
    }
    const auto path_start = target.find_first_of("/?#");
    const auto authority = target.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos) {
        return std::nullopt;
    }
    auto hp = parse_authority(authority, out.tls ? 443 : 80);
    if (!hp) {
        return std::nullopt;
    }
    out.authority = std::move(*hp);
    std::string_view rest = path_start == std::string_view::npos ? "" : target.substr(path_start);
    rest = rest.substr(0, rest.find('#'));
    if (rest.empty() || rest.front() != '/') {
        out.origin_form = "/";
        out.origin_form.append(rest);
    } else {
        out.origin_form = rest;
    }
    return out;
}

std::string authority_text(const host_port& hp) {
    std::string out;
    if (hp.host.find(':') != std::string::npos) {
        out.append("[").append(hp.host).append("]");
    } else {
        out.append(hp.host);
    }
    out.append(":").append(std::to_string(hp.port));
    return out;
}

} // namespace hoplens::proxy
