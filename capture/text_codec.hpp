#pragma once
// Small text conversions the HAR writer needs: base64, UTF-8 validation, ISO 8601 stamps,
// percent-decoding. Pure functions.

#include "capture/capture.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace hoplens::capture {

// ASCII lower case, whatever the C locale: header tokens and MIME types are ASCII.
inline char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c | 0x20) : c;
}

// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

// `s` without the spaces and tabs around it (OWS, RFC 9110 5.6.3).
std::string_view trim_ows(std::string_view s);

// Appends the base64 (RFC 4648 4, padded) of `bytes` to `out`.
void base64_append(std::string& out, std::string_view bytes);

// Length of the UTF-8 sequence starting at s[i] if it is well-formed, else 0.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

// True if `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// "2024-05-01T12:34:56.789+00:00": UTC with milliseconds and an explicit offset, the form
// HAR's startedDateTime and Chrome's importer accept. Millisecond time points reach years
// that time_point's nanoseconds cannot (a cookie that "never expires" says 9999); years
// outside 0001-9999 are clamped to them, so that the form stays four digits.
using utc_ms = std::chrono::sys_time<std::chrono::milliseconds>;
std::string iso8601_utc_ms(utc_ms t);
inline std::string iso8601_utc_ms(time_point t) {
    return iso8601_utc_ms(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

// application/x-www-form-urlencoded decoding (RFC 3986 %XX, '+' as space when `plus_is_space`).
// Malformed escapes are kept as written.
std::string percent_decode(std::string_view s, bool plus_is_space);

} // namespace hoplens::capture
