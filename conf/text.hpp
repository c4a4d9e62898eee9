#pragma once
// Private to conf/: small text helpers shared by the value parsers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplens::conf::detail {

std::string to_lower(std::string_view text);

// A whole decimal number with no sign, spaces or leading '+'; nullopt on anything else or
// on overflow past `max`.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max);

// A DNS name as RFC 1123 allows it (letters, digits, '-', plus '_' which real names use),
// labels of 1-63 bytes, at most 253 bytes, no trailing dot.
bool is_host_name(std::string_view text);

} // namespace hoplens::conf::detail
