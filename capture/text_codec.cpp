#include "capture/text_codec.hpp"

#include <algorithm>

#include <array>
#include <cstring>
#include <strings.h>

#if defined(__x86_64__)
#include <tmmintrin.h>
#endif

namespace hoplens::capture {

namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The two output characters of every 12-bit group: half the lookups of one per 6 bits.
constexpr std::array<char, 2 * 4096> base64_pairs = [] {
    std::array<char, 2 * 4096> t{};
    for (std::size_t v = 0; v < 4096; ++v) {
        t[2 * v] = base64_alphabet[v >> 6];
        t[2 * v + 1] = base64_alphabet[v & 63];
    }
    return t;
}();

#if defined(__x86_64__)
// 12 input bytes to 16 base64 characters per step (W. Muła and D. Lemire, "Faster Base64
// Encoding and Decoding Using AVX2 Instructions", 2018, with SSSE3's 16-byte registers):
// in the scalar loop, the 1 MiB of HAR text of a binary body was 11% of the
// capture thread in bulk downloads. Each step loads 16 bytes to encode 12, so it stops when
// fewer than 16 remain and leaves those to the scalar loop. Returns how many it encoded.
__attribute__((target("ssse3"))) std::size_t base64_ssse3(char* out, const char* in,
                                                          std::size_t n) {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 12, out += 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        // Each 32-bit lane gets the 3 bytes of one group, as bytes 1, 0, 2, 1.
        v = _mm_shuffle_epi8(v, _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1));
        // The four 6-bit values of each lane, one per byte, moved into place by multiplies.
        const __m128i ac = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)),
                                           _mm_set1_epi32(0x04000040));
        const __m128i bd = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)),
                                           _mm_set1_epi32(0x01000010));
        const __m128i sextets = _mm_or_si128(ac, bd);
        // Each value's offset to its ASCII character, by the range it falls in: 0-25 'A',
        // 26-51 'a', 52-61 '0', 62 '+', 63 '/'.
        __m128i range = _mm_subs_epu8(sextets, _mm_set1_epi8(51));
        const __m128i below_26 = _mm_cmpgt_epi8(_mm_set1_epi8(26), sextets);
        range = _mm_or_si128(range, _mm_and_si128(below_26, _mm_set1_epi8(13)));
        const __m128i offsets = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                              '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                              '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                         _mm_add_epi8(_mm_shuffle_epi8(offsets, range), sextets));
    }
    return i;
}

// Asked at first use, not by a static initializer: __builtin_cpu_supports needs the CPU
// detection (__builtin_cpu_init) to have run, which one constructor cannot count on in another.
bool has_ssse3() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("ssse3") != 0;
    }();
    return has;
}
#endif

} // namespace

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

void base64_append(std::string& out, std::string_view bytes) {
    // Sized once and filled through a pointer: appending a char at a time was the capture
    // thread's top cost on bulk binary bodies (1 MiB kept per body).
    const std::size_t start = out.size();
    out.resize(start + (bytes.size() + 2) / 3 * 4, '=');
    char* o = out.data() + start;
    std::size_t i = 0;
#if defined(__x86_64__)
    if (has_ssse3()) {
        i = base64_ssse3(o, bytes.data(), bytes.size());
        o += i / 3 * 4;
    }
#endif
    for (; i + 3 <= bytes.size(); i += 3) {
        const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                       (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
                       std::uint32_t(std::uint8_t(bytes[i + 2]));
        std::memcpy(o, &base64_pairs[2 * (n >> 12)], 2);
        std::memcpy(o + 2, &base64_pairs[2 * (n & 0xFFF)], 2);
        o += 4;
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) { // the padding '=' are already there
        std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        if (rest == 2) {
            n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
        }
        *o++ = base64_alphabet[(n >> 18) & 63];
        *o++ = base64_alphabet[(n >> 12) & 63];
        if (rest == 2) {
            *o = base64_alphabet[(n >> 6) & 63];
        }
    }
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto b0 = std::uint8_t(s[i]);
    if (b0 < 0x80) {
        return 1;
    }
    std::size_t len = 0;
    std::uint8_t lo = 0x80;
    std::uint8_t hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        lo = b0 == 0xE0 ? 0xA0 : 0x80; // no overlongs
        hi = b0 == 0xED ? 0x9F : 0xBF; // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        lo = b0 == 0xF0 ? 0x90 : 0x80;
        hi = b0 == 0xF4 ? 0x8F : 0xBF; // <= U+10FFFF
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    const auto b1 = std::uint8_t(s[i + 1]);
    if (b1 < lo || b1 > hi) {
        return 0;
    }
    for (std::size_t k = 2; k < len; ++k) {
        const auto b = std::uint8_t(s[i + k]);
        if (b < 0x80 || b > 0xBF) {
            return 0;
        }
    }
    return len;
}

bool is_valid_utf8(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size();) {
        // ASCII 8 bytes at a time: a text body of up to 1 MiB is checked whole, and most are
        // all or nearly all ASCII.
        if (std::uint64_t w = 0; i + 8 <= bytes.size()) {
            std::memcpy(&w, bytes.data() + i, 8);
            if ((w & 0x8080808080808080) == 0) {
                i += 8;
                continue;
            }
        }
        const std::size_t len = utf8_sequence_length(bytes, i);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

namespace {

// The decimal digits of `value` right-aligned in at[0, width), zero-padded.
void put_digits(char* at, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        at[i] = char('0' + value % 10);
        value /= 10;
    }
}

} // namespace

// Written digit by digit rather than with snprintf: every HAR entry carries one.
std::string iso8601_utc_ms(utc_ms t) {
    using namespace std::chrono;
    static constexpr utc_ms first{sys_days{year{1} / January / 1}};
    static constexpr utc_ms last{sys_days{year{10000} / January / 1} - milliseconds{1}};
    const utc_ms ms = std::clamp(t, first, last);
    const auto day = floor<days>(ms);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> tod{ms - day};
    std::string out = "0000-00-00T00:00:00.000+00:00";
    put_digits(&out[0], unsigned(int(ymd.year())), 4);
    put_digits(&out[5], unsigned(ymd.month()), 2);
    put_digits(&out[8], unsigned(ymd.day()), 2);
    put_digits(&out[11], unsigned(tod.hours().count()), 2);
    put_digits(&out[14], unsigned(tod.minutes().count()), 2);
    put_digits(&out[17], unsigned(tod.seconds().count()), 2);
    put_digits(&out[20], unsigned(tod.subseconds().count()), 3);
    return out;
}

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}
} // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += char(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
    }
    return out;
}

} // namespace hoplens::capture
