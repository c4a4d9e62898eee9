#include "conf/text.hpp"

#include <algorithm>
#include <charconv>

namespace hoplens::conf::detail {

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max) {
    if (text.empty() || text.front() < '0' || text.front() > '9') {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

bool is_host_name(std::string_view text) {
    if (text.empty() || text.size() > 253) {
        return false;
    }
    std::size_t label_bytes = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '.') {
            // Empty labels ("a..b", ".a", "a.") and over-long ones are not names.
            if (label_bytes == 0 || label_bytes > 63) {
                return false;
            }
            if (text[i - 1] == '-') {
                return false;
            }
            label_bytes = 0;
            continue;
        }
        const char c = text[i];
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '_') {
            return false;
        }
        if (c == '-' && label_bytes == 0) {
            return false;
        }
        ++label_bytes;
    }
    return true;
}

} // namespace hoplens::conf::detail
