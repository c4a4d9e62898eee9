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
