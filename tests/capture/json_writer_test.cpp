#include "capture/json_writer.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>

namespace hoplens::capture {
namespace {

// The HAR file kept its bytes when the writer replaced boost::json trees: the writer must
// give exactly what boost::json::serialize gives for the same tree.
TEST_CASE("json_writer writes what boost::json::serialize writes") {
    std::string every_byte;
    for (int c = 0; c < 256; ++c) {
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

} // namespace
} // namespace hoplens::capture
