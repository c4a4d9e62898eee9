#include "capture/json_writer.hpp"

#include "capture/text_codec.hpp"

#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>
#include <cstring>

namespace hoplens::capture {

namespace {

// What boost::json writes for each byte below 0x20 and for '"' and '\\': 0 for the byte
// itself, 'u' for \u00XX, otherwise the letter after the backslash.
constexpr std::array<char, 256> escapes = [] {
    std::array<char, 256> e{};
    for (int c = 0; c < 0x20; ++c) {
        e[c] = 'u';
    }
    e['\b'] = 'b';
    e['\t'] = 't';
    e['\n'] = 'n';
    e['\f'] = 'f';
    e['\r'] = 'r';
    e['"'] = '"';
    e['\\'] = '\\';
    return e;
}();

// True if one of the 8 bytes of `w` needs an escape: below 0x20, '"' or '\\' (the
// "has less than" and "has zero byte" tests of Hacker's Delight 6-1; a byte of 0x80 or more
// never matches). Bodies of up to 1 MiB go through here, mostly needing no escape at all.
bool any_escape(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t high = 0x8080808080808080;
    const auto zero_byte = [](std::uint64_t v) { return (v - ones) & ~v & high; };
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & high;
    return (below_space | (w & high) | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) != 0;
}

// The n (1 to 7) bytes at p as one word for any_escape: each byte of it is one of them
// (two overlapping loads) or a padding that needs no escape. Loads, not a byte-wise copy into
// a padded word: a load of 8 bytes cannot be forwarded from the copy's small stores, and that
// stall was half of plain_prefix's time in the proxy (perf, keep-alive with captures on).
std::uint64_t short_word(const char* p, std::size_t n) {
    if (n >= 4) {
        std::uint32_t first = 0;
        std::uint32_t last = 0;
        std::memcpy(&first, p, 4);
        std::memcpy(&last, p + n - 4, 4);
        return first | std::uint64_t{last} << 32;
    }
    constexpr std::uint64_t padding = 0x6161616161616161; // 'a'
    if (n >= 2) {
        std::uint16_t first = 0;
        std::uint16_t last = 0;
        std::memcpy(&first, p, 2);
        std::memcpy(&last, p + n - 2, 2);
        return (padding & ~std::uint64_t{0xFFFFFFFF}) | first | std::uint64_t{last} << 16;
    }
    return (padding & ~std::uint64_t{0xFF}) | static_cast<unsigned char>(p[0]);
}

} // namespace

// Index of the first byte of `text` that cannot be copied as it is (one needing an escape,
// or one of 0x80 or more, which may start a sequence to check), or text.size().
std::size_t json_writer::plain_prefix(std::string_view text) {
    std::size_t i = 0;
    for (std::uint64_t w = 0; i + 8 <= text.size(); i += 8) {
        std::memcpy(&w, text.data() + i, 8);
        if (any_escape(w)) {
            break;
        }
    }
    if (const std::size_t tail = text.size() - i; tail > 0 && tail < 8) {
        // The short rest (most member names are all rest) as one word: the string's last 8
        // bytes where it has 8, re-reading some that passed.
        std::uint64_t w = 0;
        if (text.size() >= 8) {
            std::memcpy(&w, text.data() + text.size() - 8, 8);
        } else {
            w = short_word(text.data() + i, tail);
        }
        if (!any_escape(w)) {
            return text.size();
        }
    }
    while (i < text.size() && escapes[static_cast<unsigned char>(text[i])] == 0 &&
           static_cast<unsigned char>(text[i]) < 0x80) {
        ++i;
    }
    return i;
}

// Most of a HAR entry is short member names and header values that need no escape: each such
// token (separator, quotes, text, and a name's colon) goes into the output with one append and
// one memcpy, where a byte-wise build cost ~350 instructions per member name (callgrind,
// bench/recorder_bench: JSON quoting was 41% of the capture thread's instructions).
void json_writer::token(std::string_view text, bool as_key) {
    const bool comma = take_comma();
    if (const std::size_t plain = plain_prefix(text); plain != text.size()) {
        if (comma) {
            out_ += ',';
        }
        quote(text, plain);
        if (as_key) {
            out_ += ':';
        }
        return;
    }
    const std::size_t at = out_.size();
    out_.append(std::size_t(comma) + text.size() + 2 + std::size_t(as_key), '"');
    char* p = out_.data() + at;
    if (comma) {
        *p++ = ',';
    }
    if (!text.empty()) { // an empty view's data() may be null, which memcpy must not get
        std::memcpy(p + 1, text.data(), text.size());
    }
    if (as_key) {
        p[text.size() + 2] = ':';
    }
}

bool json_writer::take_comma() {
    if (after_key_) {
        after_key_ = false;
        return false;
    }
    const bool comma = !first_;
    first_ = false;
    return comma;
}

void json_writer::separate() {
    if (take_comma()) {
        out_ += ',';
    }
}

void json_writer::begin_object() {
    separate();
    out_ += '{';
    first_ = true;
}

void json_writer::end_object() {
    out_ += '}';
    first_ = false; // the enclosing container now has an element
}

void json_writer::begin_array() {
    separate();
    out_ += '[';
    first_ = true;
}

void json_writer::end_array() {
    out_ += ']';
    first_ = false;
}

void json_writer::key(std::string_view name) {
    token(name, true);
    after_key_ = true;
}

void json_writer::value(std::string_view text) {
    token(text, false);
}

void json_writer::quote(std::string_view text, std::size_t plain) {
    static constexpr char hex[] = "0123456789abcdef";
    out_.reserve(out_.size() + text.size() + 2);
    out_ += '"';
    std::size_t run = 0; // bytes copied as a block: most text needs no escape
    for (std::size_t i = plain; i < text.size(); ++i) {
        std::uint64_t w = 0;
        while (i + 8 <= text.size() && (std::memcpy(&w, text.data() + i, 8), !any_escape(w))) {
            i += 8;
        }
        if (i == text.size()) {
            break;
        }
        const auto ch = static_cast<unsigned char>(text[i]);
        char e = escapes[ch];
        if (ch >= 0x80) {
            // Well-formed UTF-8 is copied; any other byte (obs-text in a header, RFC 9110
            // 5.5) is read as ISO-8859-1, so that the file stays valid JSON, which devtools
            // and every JSON parser require.
            const std::size_t len = utf8_sequence_length(text, i);
            if (len > 0) {
                i += len - 1;
                continue;
            }
            e = 'u';
        }
        if (e == 0) {
            continue;
        }
        out_.append(text.data() + run, i - run);
        run = i + 1;
        out_ += '\\';
        if (e == 'u') {
            out_ += "u00";
            out_ += hex[ch >> 4];
            out_ += hex[ch & 15];
        } else {
            out_ += e;
        }
    }
    out_.append(text.data() + run, text.size() - run);
    out_ += '"';
}

void json_writer::value_base64(std::string_view bytes) {
    separate();
    out_ += '"';
    base64_append(out_, bytes); // the base64 alphabet needs no escapes
    out_ += '"';
}

void json_writer::value(std::int64_t number) {
    separate();
    std::array<char, 24> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), number);
    out_.append(buf.data(), r.ptr);
}

void json_writer::value(double number) {
    separate();
    // boost::json's own formatting ("1.5E0"): the files keep the form they always had.
    const boost::json::value v(number);
    boost::json::serializer sr;
    sr.reset(&v);
    std::array<char, 32> buf{};
    out_ += sr.read(buf.data(), buf.size());
}

void json_writer::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
}

} // namespace hoplens::capture
