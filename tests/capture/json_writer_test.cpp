#include "capture/json_writer.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>

namespace hoplens::capture {
namespace {

// The HAR file kept its bytes when the writer replaced boost::json trees: the writer must
// give exactly what boost::json::serialize gives for the same tree of valid UTF-8.
TEST_CASE("json_writer writes what boost::json::serialize writes") {
    std::string every_byte;
    for (int c = 0; c < 128; ++c) {
        every_byte += char(c);
    }
    // Escapes at every position of an 8-byte block, and at the end of a string.
    const std::string texts[] = {"",
                                 "plain",
                                 every_byte,
                                 "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
                                 "1234567\"",
                                 "12345678\\",
                                 "a\nb\tc\x01"
                                 "d\x7f",
                                 "\x1f"};
    const double numbers[] = {0.0, -1.0, 1.5, 15.2, 0.001, 123456.789, 1e21};

    boost::json::object tree;
    std::string written;
    json_writer w(written);
    w.begin_object();
    for (std::size_t i = 0; i < std::size(texts); ++i) {
        const std::string key = "k" + std::to_string(i) + texts[i];
        tree[key] = texts[i];
        w.member(key, texts[i]);
    }
    boost::json::array nums;
    w.key("numbers");
    w.begin_array();
    for (double d : numbers) {
        nums.push_back(d);
        w.value(d);
    }
    for (std::int64_t n : {std::int64_t(0), std::int64_t(-1), std::int64_t(1) << 40}) {
        nums.push_back(n);
        w.value(n);
    }
    w.value(true);
    nums.push_back(true);
    w.begin_object();
    w.end_object();
    nums.push_back(boost::json::object{});
    w.begin_array();
    w.end_array();
    nums.push_back(boost::json::array{});
    w.end_array();
    tree["numbers"] = nums;
    w.member("flag", false);
    tree["flag"] = false;
    w.end_object();

    CHECK(written == boost::json::serialize(tree));
}

// Names and values are copied whole when no byte needs attention, checked a word at a time
// with the short rest padded into one word: an escape or a UTF-8 sequence must be found at
// every length and position, in a member name as in a value.
TEST_CASE("json_writer finds an escape at every position of short and long strings") {
    for (const std::string special : {"\"", "\\", "\x01", "\x7f", "\xc3\xa9", "\xff"}) {
        for (std::size_t len = 0; len <= 24; ++len) {
            for (std::size_t at = 0; at <= len; ++at) {
                std::string text(len, 'a');
                text.insert(at, special);
                boost::json::object tree;
                tree[text] = text;
                tree["after"] = 1;
                std::string written;
                json_writer w(written);
                w.begin_object();
                w.member(text, text);
                w.member("after", 1);
                w.end_object();
                if (special == "\xff") { // not UTF-8: ISO-8859-1, unlike boost::json
                    CHECK(boost::json::parse(written).as_object().at("after") == 1);
                    continue;
                }
                CHECK_MESSAGE(written == boost::json::serialize(tree), "at ", at, " of ", len);
            }
        }
    }
}

std::string quoted(std::string_view text) {
    std::string out;
    json_writer w(out);
    w.value(text);
    return out;
}

// Header values may carry obs-text (RFC 9110 5.5), found by the http1_reassembly fuzzer: raw
// bytes that are not UTF-8 made the HAR file invalid JSON, which devtools refuse to open.
// Found by the http1_reassembly corpus under UBSan: an empty view's data() is null.
TEST_CASE("an empty view without storage is an empty string") {
    CHECK(quoted(std::string_view{}) == "\"\"");
}

TEST_CASE("bytes that are not UTF-8 are written as ISO-8859-1; UTF-8 is kept as it is") {
    CHECK(quoted("a=b;\xa0" "c=d") == "\"a=b;\\u00a0c=d\"");
    CHECK(quoted("caf\xe9") == "\"caf\\u00e9\"");                       // Latin-1, not UTF-8
    CHECK(quoted("\xc3\xa9t\xc3\xa9") == "\"\xc3\xa9t\xc3\xa9\"");       // UTF-8 kept
    CHECK(quoted("1234567\xf0\x9f\x98\x80") == "\"1234567\xf0\x9f\x98\x80\""); // across a block
    CHECK(quoted("\xe2\x82") == "\"\\u00e2\\u0082\"");                     // cut short
    CHECK(quoted("\xc0\xaf") == "\"\\u00c0\\u00af\"");                     // overlong
    CHECK(quoted("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");           // a surrogate

    std::string every_byte;
    for (int c = 0; c < 256; ++c) {
        every_byte += char(c);
    }
    const auto parsed = boost::json::parse(quoted(every_byte));
    const auto& text = parsed.as_string();
    REQUIRE(text.size() == 128 + 2 * 128); // 0x80-0xff become two-byte UTF-8 (U+0080-U+00FF)
    CHECK(std::string_view(text).substr(0, 128) == std::string_view(every_byte).substr(0, 128));
}

TEST_CASE("value_base64 writes RFC 4648's test vectors in place, between other values") {
    std::string out;
    json_writer w(out);
    w.begin_array();
    for (const char* v : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        w.value_base64(v);
    }
    w.value_base64(std::string_view("\x00\xff\xfe", 3));
    w.end_array();
    CHECK(out == R"(["","Zg==","Zm8=","Zm9v","Zm9vYg==","Zm9vYmE=","Zm9vYmFy","AP/+"])");
}

} // namespace
} // namespace hoplens::capture
