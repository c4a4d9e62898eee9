// The small text conversions of the HAR writer, at their edges.
#include "capture/text_codec.hpp"

#include <doctest/doctest.h>

using namespace hoplens::capture;
using namespace std::chrono;

namespace {

hoplens::capture::time_point at(sys_days day, milliseconds since_midnight = {}) {
    return hoplens::capture::time_point(day) + since_midnight;
}

} // namespace

TEST_CASE("iso8601_utc_ms: UTC, milliseconds, explicit offset, zero-padded fields") {
    CHECK(iso8601_utc_ms(at(sys_days{1970y / January / 1})) == "1970-01-01T00:00:00.000+00:00");
    CHECK(iso8601_utc_ms(at(sys_days{2024y / February / 29}, hours{23} + minutes{59} + seconds{59} +
                                                                milliseconds{999})) ==
          "2024-02-29T23:59:59.999+00:00");
    CHECK(iso8601_utc_ms(at(sys_days{2026y / November / 25}, hours{7} + minutes{5} + milliseconds{42})) ==
          "2026-11-25T07:05:00.042+00:00");
    // Sub-millisecond parts are cut, not rounded: a stamp never moves into the next second.
    CHECK(iso8601_utc_ms(at(sys_days{2026y / December / 31}, hours{23} + minutes{59} + seconds{59}) +
                         microseconds{999}) == "2026-12-31T23:59:59.000+00:00");
}

TEST_CASE("ascii_lower folds A-Z only, whatever the byte") {
    CHECK(ascii_lower('A') == 'a');
    CHECK(ascii_lower('Z') == 'z');
    CHECK(ascii_lower('a') == 'a');
    CHECK(ascii_lower('@') == '@');
    CHECK(ascii_lower('[') == '[');
    CHECK(ascii_lower(char(0xC4)) == char(0xC4)); // Latin-1 'Ä' is not ASCII: left alone
}

namespace {

// RFC 4648 4 six bits at a time: what the vector loop and the pair table must agree with.
std::string reference_base64(std::string_view in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
        const std::size_t have = std::min<std::size_t>(3, in.size() - i);
        if (have > 1) {
            n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
        }
        if (have > 2) {
            n |= std::uint8_t(in[i + 2]);
        }
        for (std::size_t k = 0; k < 4; ++k) {
            out += k <= have ? alphabet[(n >> (18 - 6 * k)) & 63] : '=';
        }
    }
    return out;
}

} // namespace

TEST_CASE("base64_append agrees with RFC 4648 at every length, on every byte value") {
    std::string bytes(70000, '\0');
    std::uint32_t x = 99;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        x = x * 1103515245 + 12345;
        // Every value at the start (all 64 sextets in every lane), then pseudo-random ones.
        bytes[i] = char(i < 256 ? i : x >> 16);
    }
    for (std::size_t n = 0; n <= 300; ++n) {
        CAPTURE(n);
        std::string out = "prefix";
        base64_append(out, std::string_view(bytes).substr(0, n));
        CHECK(out == "prefix" + reference_base64(std::string_view(bytes).substr(0, n)));
    }
    for (std::size_t from = 0; from < 3; ++from) { // unaligned input
        std::string out;
        base64_append(out, std::string_view(bytes).substr(from));
        CHECK(out == reference_base64(std::string_view(bytes).substr(from)));
    }
}

TEST_CASE("is_valid_utf8 finds a bad sequence wherever it sits after ASCII") {
    const std::string_view good[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
    const std::string_view bad[] = {"\xC0\xAF",         "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                    "\xE2\x82",         "\x80",         "\xFF",
                                    "\xE2\x28\xA1"};
    for (std::size_t ascii = 0; ascii <= 17; ++ascii) { // across the 8-byte ASCII steps
        CAPTURE(ascii);
        const std::string before(ascii, 'a');
        for (const std::string_view seq : good) {
            CHECK(is_valid_utf8(before + std::string(seq)));
            CHECK(is_valid_utf8(before + std::string(seq) + "0123456789"));
        }
        for (const std::string_view seq : bad) {
            CAPTURE(seq);
            CHECK_FALSE(is_valid_utf8(before + std::string(seq)));
            CHECK_FALSE(is_valid_utf8(before + std::string(seq) + "0123456789"));
        }
        CHECK(is_valid_utf8(before));
    }
}
