#include "capture/websocket_frames.hpp"

#include "capture_test_util.hpp"
#include "websocket_test_util.hpp"

#include <doctest/doctest.h>

namespace hoplens::capture {
namespace {

using test::at_ms;
using test::ws_receive;
using test::ws_send;

constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

// One direction decoded with a budget of `cap` bytes.
struct decoded {
    websocket_frame_decoder decoder;
    websocket_budget budget;
    std::vector<websocket_message> messages;

    explicit decoded(direction dir, bool deflate = false, std::size_t cap = 1 << 20)
        : decoder(dir, deflate) {
        budget.room = cap;
    }
    decoded& feed(std::string_view bytes, std::int64_t ms = 1) {
        decoder.feed(at_ms(ms), bytes, budget, messages);
        return *this;
    }
    std::vector<std::string> data() const {
        std::vector<std::string> out;
        for (const auto& m : messages) {
            out.push_back(m.data);
        }
        return out;
    }
};

using strings = std::vector<std::string>;

TEST_CASE("RFC 6455 5.7: a masked client text and an unmasked server text") {
    decoded client(c2s);
    client.feed("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 7);
    REQUIRE(client.messages.size() == 1);
    CHECK(client.messages[0].data == "Hello");
    CHECK(client.messages[0].opcode == 1);
    CHECK(client.messages[0].dir == c2s);
    CHECK(client.messages[0].at == at_ms(7));

    decoded server(s2c);
    server.feed("\x81\x05Hello");
    CHECK(server.data() == strings{"Hello"});
    CHECK(server.decoder.problem().empty());
}

TEST_CASE("a fragmented message with a ping between its fragments is one message") {
    decoded d(s2c);
    // RFC 6455 5.7's fragments, a ping in between; the message ends with the last chunk.
    d.feed("\x01\x03Hel", 1).feed("\x89\x05Hello", 2).feed("\x80\x02lo", 3);
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0].data == "Hello");
    CHECK(d.messages[0].at == at_ms(3));
    // Masked fragments keep the mask position per frame.
    decoded c(c2s);
    c.feed(ws_send("abcde", 2, false) + ws_send("ping", 9) + ws_send("fgh", 0, false) +
           ws_send("", 0, true));
    REQUIRE(c.messages.size() == 1);
    CHECK(c.messages[0].opcode == 2);
    CHECK(c.messages[0].data == "abcdefgh");
}

TEST_CASE("16-bit and 64-bit lengths") {
    const std::string mid(256, 'm');
    const std::string big(65536, 'b');
    const std::string wire16 = ws_receive(mid, 2);
    const std::string wire64 = ws_send(big, 2);
    CHECK(wire16.substr(0, 4) == std::string_view("\x82\x7e\x01\x00", 4));
    CHECK(wire64.substr(0, 10) == std::string_view("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00", 10));
    decoded s(s2c);
    s.feed(wire16);
    CHECK(s.data() == strings{mid});
    decoded c(c2s);
    c.feed(wire64);
    CHECK(c.data() == strings{big});
}

TEST_CASE("close, ping and pong frames are not messages") {
    decoded d(s2c);
    d.feed(ws_receive("p", 9) + ws_receive("q", 10) + ws_receive("\x03\xe8", 8));
    CHECK(d.messages.empty());
    CHECK(d.decoder.problem().empty());
}

TEST_CASE("RFC 7692 7.2.3: permessage-deflate messages, context taken over") {
    SUBCASE("the RFC's own bytes: the second Hello refers to the first") {
        decoded d(s2c, true);
        d.feed(std::string_view("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9));
        d.feed(std::string_view("\xc1\x05\xf2\x00\x11\x00\x00", 7));
        CHECK(d.data() == strings{"Hello", "Hello"});
    }
    SUBCASE("a stored block, and a block with BFINAL followed by another message") {
        decoded d(s2c, true);
        d.feed(std::string_view("\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 13));
        const std::string_view final_block("\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 10);
        d.feed(final_block).feed(final_block);
        CHECK(d.data() == strings{"Hello", "Hello", "Hello"});
        CHECK(d.decoder.problem().empty());
    }
    SUBCASE("zlib with Z_SYNC_FLUSH, two messages, the first fragmented") {
        test::ws_deflater z;
        const std::string text = "the quick brown fox jumps over the lazy dog, twice over";
        const std::string first = z.message(text);
        const std::string second = z.message(text);
        CHECK(second.size() < first.size()); // only the window makes the second this small
        decoded d(c2s, true);
        const std::size_t half = first.size() / 2;
        d.feed(test::ws_frame({false, true, 1, test::client_mask}, first.substr(0, half)));
        d.feed(test::ws_frame({true, false, 0, test::client_mask}, first.substr(half)));
        d.feed(test::ws_frame({true, true, 1, test::client_mask}, second));
        d.feed(ws_send("plain")); // RSV1 clear: not compressed
        CHECK(d.data() == strings{text, text, "plain"});
    }
}

TEST_CASE("the same streams split at every byte boundary decode the same") {
    test::ws_deflater z;
    const std::string big(300, 'x');
    const std::string client = ws_send("one") + ws_send("tw", 1, false) + ws_send("p", 9) +
                               ws_send("o", 0, true) + ws_send(big, 2) +
                               test::ws_frame({true, true, 1, test::client_mask}, z.message("zz")) +
                               test::ws_frame({true, true, 2, test::client_mask}, z.message("zz"));
    const strings expected{"one", "two", big, "zz", "zz"};
    for (std::size_t i = 0; i <= client.size(); ++i) {
        CAPTURE(i);
        decoded d(c2s, true);
        d.feed(client.substr(0, i)).feed(client.substr(i));
        CHECK(d.data() == expected);
    }
    decoded bytewise(c2s, true);
    for (char c : client) {
        bytewise.feed(std::string_view(&c, 1));
    }
    CHECK(bytewise.data() == expected);
}

TEST_CASE("past the budget, messages are counted and not kept") {
    decoded d(s2c, false, sizeof(websocket_message) + 10); // the record counts too
    d.feed(ws_receive("123456") + ws_receive("1234567") + ws_receive("1"));
    CHECK(d.data() == strings{"123456"});
    CHECK(d.budget.full);
    CHECK(d.budget.messages_left_out == 2);
    CHECK(d.budget.bytes_left_out == 8);
}

// Found by review: an empty message is two bytes on the wire and ~56 in the log, which is
// kept until the connection ends; 2 MB of them held 1,000,000 records within a 1 KiB budget.
TEST_CASE("empty messages fill the budget with their records") {
    decoded d(s2c, false, 1024);
    std::string empties;
    for (int i = 0; i < 10000; ++i) {
        empties += ws_receive("");
    }
    d.feed(empties);
    CHECK(d.messages.size() <= 1024 / sizeof(websocket_message));
    CHECK(d.budget.full);
    CHECK(d.messages.size() + d.budget.messages_left_out == 10000);
}

TEST_CASE("a compressed message past the budget stops inflating") {
    test::ws_deflater z;
    const std::string bomb(1 << 20, 'a');
    decoded d(s2c, true, 1000);
    d.feed(test::ws_frame({true, true, 2, std::nullopt}, z.message(bomb)));
    CHECK(d.messages.empty());
    CHECK(d.budget.messages_left_out == 1);
    CHECK(d.decoder.problem().empty());
}

TEST_CASE("a frame that breaks the RFC stops its direction; later bytes are ignored") {
    struct bad_case {
        const char* name;
        std::string wire;
        bool deflate;
        const char* says;
        std::uint64_t at = 8; // where the frame begins: after "before"
    };
    const bad_case cases[] = {
        {"reserved opcode", std::string("\x83\x00", 2), false, "reserved opcode 3"},
        {"reserved control opcode", std::string("\x8b\x00", 2), false, "reserved control"},
        {"RSV1 without the extension", "\xc1\x01x", false, "RSV1 set without"},
        {"RSV1 on a control frame", std::string("\xc9\x00", 2), true, "RSV1 set on"},
        {"RSV2", "\xa1\x01x", false, "RSV2"},
        {"continuation first", "\x80\x01x", false, "continuation frame outside"},
        {"data inside a fragmented message", "\x01\x01x\x81\x01y", false, "new data frame", 11},
        {"fragmented ping", std::string("\x09\x00", 2), false, "control frame"},
        {"long ping", std::string("\x89\x7e\x00\x80", 4), false, "control frame"},
        {"length 2^63", std::string("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10), false,
         "most significant bit"},
        {"deflate that does not inflate", "\xc1\x02\xff\xff", true, "does not inflate"},
    };
    for (const bad_case& c : cases) {
        CAPTURE(c.name);
        decoded d(s2c, c.deflate);
        d.feed(ws_receive("before")).feed(c.wire).feed(ws_receive("after"));
        CHECK(d.data() == strings{"before"});
        CHECK(d.decoder.problem().find(c.says) != std::string::npos);
        CHECK(d.decoder.problem().find("server WebSocket frames") == 0);
        CHECK(d.decoder.problem().find("frame at byte " + std::to_string(c.at) + ":") !=
              std::string::npos);
    }
}

TEST_CASE("a huge declared length allocates nothing up front") {
    decoded d(c2s, false, 16);
    d.feed(std::string("\x82\xff\x3f\xff\xff\xff\xff\xff\xff\xff", 10) + "mask" +
           std::string(64, 'z'));
    CHECK(d.messages.empty());
    CHECK(d.budget.full);
    CHECK(d.decoder.problem().empty());
}

} // namespace
} // namespace hoplens::capture
