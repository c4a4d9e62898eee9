#pragma once
// Comparing HTTP field names (and the tokens of Connection), shared by the parser and the
// serializer of proxy/.

#include <cstddef>
#include <string_view>

namespace hoplens::proxy {

// Field names are ASCII (RFC 9110 §5.1): no locale, and unequal lengths end it at once.
// Every header of every message goes through here several times.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if ((a[i] | 0x20) != (b[i] | 0x20)) {
            return false;
        }
        const char c = static_cast<char>(a[i] | 0x20);
        if ((c < 'a' || c > 'z') && a[i] != b[i]) {
            return false; // only letters may differ in case
        }
    }
    return true;
}

// `s` without the spaces and tabs around it (RFC 9110 §5.6.3 OWS): llhttp keeps a field
// value's trailing whitespace.
inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Calls fn(element) for each non-empty element of a comma-separated field value (RFC 9110
// §5.6.1), trimmed of spaces and tabs.
template <typename F> void for_each_list_element(std::string_view value, F fn) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        const std::string_view element = trim_ows(value.substr(0, comma));
        if (!element.empty()) {
            fn(element);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
}

} // namespace hoplens::proxy
