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

} // namespace hoplens::proxy
