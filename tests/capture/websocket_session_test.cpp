#include "capture/websocket_session.hpp"

#include "capture/http1_reassembler.hpp"

#include "capture_test_util.hpp"
#include "websocket_test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace hoplens::capture {
namespace {

using test::at_ms;
using test::conn;
using test::ws_receive;
using test::ws_send;

constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

constexpr std::string_view upgrade_request = "GET /chat HTTP/1.1\r\nHost: example.test\r\n"
                                             "Connection: keep-alive, Upgrade\r\n"
                                             "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

std::string switching(std::string_view extra_headers = {}) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
           std::string(extra_headers) + "\r\n";
}

struct message_view {
    direction dir;
    std::int64_t ms;
    std::string data;
    bool operator==(const message_view&) const = default;
};

std::vector<message_view> messages_of(const exchange& x) {
    std::vector<message_view> out;
    for (const auto& m : x.websocket->messages) {
        out.push_back({m.dir, (m.at - at_ms(0)) / std::chrono::milliseconds(1), m.data});
    }
    return out;
}

TEST_CASE("after a 101 to a WebSocket upgrade, frames of both directions become messages") {
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), upgrade_request);
    r.feed(s2c, at_ms(2), switching() + ws_receive("welcome"));
    CHECK(r.take_finished().empty()); // recorded when the connection ends
    r.feed(c2s, at_ms(3), ws_send("hi") + ws_send("there", 1, false));
    r.feed(c2s, at_ms(4), ws_send("!", 0));
    r.feed(s2c, at_ms(5), ws_receive("\x03\xe8", 8));
    r.feed(c2s, at_ms(6), ws_send("\x03\xe8", 8));
    CHECK(r.take_finished().empty());
    r.close(at_ms(7), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    const exchange& x = xs[0];
    CHECK(x.problem.empty());
    CHECK(x.response.status == 101);
    CHECK(x.response.complete);
    CHECK(x.ended == at_ms(7));
    REQUIRE(x.websocket);
    CHECK(messages_of(x) ==
          std::vector<message_view>{{s2c, 2, "welcome"}, {c2s, 3, "hi"}, {c2s, 4, "there!"}});
    CHECK(x.websocket->problems.empty());
}

TEST_CASE("client frames seen before the 101 are held until it comes") {
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), std::string(upgrade_request) + ws_send("early"));
    r.feed(c2s, at_ms(2), ws_send("also early"));
    r.feed(s2c, at_ms(3), switching());
    r.feed(c2s, at_ms(4), ws_send("late"));
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(messages_of(xs[0]) ==
          std::vector<message_view>{{c2s, 1, "early"}, {c2s, 2, "also early"}, {c2s, 4, "late"}});
}

TEST_CASE("too many client bytes before the 101: the client side is not decoded") {
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), upgrade_request);
    r.feed(c2s, at_ms(2), ws_send(std::string(websocket_session::max_held_bytes, 'x'), 2));
    r.feed(s2c, at_ms(3), switching() + ws_receive("ok"));
    r.feed(c2s, at_ms(4), ws_send("late"));
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(messages_of(xs[0]) == std::vector<message_view>{{s2c, 3, "ok"}});
    REQUIRE(xs[0].websocket->problems.size() == 1);
    CHECK(xs[0].websocket->problems[0].find("before the 101") != std::string::npos);
}

TEST_CASE("permessage-deflate is on when the 101 accepts it") {
    test::ws_deflater client_z;
    test::ws_deflater server_z;
    const auto compressed = [](std::string_view payload, bool masked) {
        return test::ws_frame(
            {true, true, 1, masked ? std::optional(test::client_mask) : std::nullopt}, payload);
    };
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), upgrade_request);
    r.feed(s2c, at_ms(2),
           switching("Sec-WebSocket-Extensions: x-other, PerMessage-Deflate ; "
                     "server_no_context_takeover\r\n"));
    r.feed(c2s, at_ms(3), compressed(client_z.message("question"), true));
    r.feed(c2s, at_ms(4), compressed(client_z.message("question"), true));
    r.feed(s2c, at_ms(5), compressed(server_z.message("answer"), false));
    r.close(at_ms(6), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(messages_of(xs[0]) == std::vector<message_view>{{c2s, 3, "question"},
                                                          {c2s, 4, "question"},
                                                          {s2c, 5, "answer"}});
}

TEST_CASE("without the extension in the 101, RSV1 is a malformed frame") {
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), upgrade_request);
    r.feed(s2c, at_ms(2), switching() + ws_receive("one"));
    r.feed(s2c, at_ms(3), test::ws_frame({true, true, 1, std::nullopt}, "zz") + ws_receive("two"));
    r.feed(c2s, at_ms(4), ws_send("still decoded"));
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.empty());
    CHECK(messages_of(xs[0]) ==
          std::vector<message_view>{{s2c, 2, "one"}, {c2s, 4, "still decoded"}});
    REQUIRE(xs[0].websocket->problems.size() == 1);
    CHECK(xs[0].websocket->problems[0].find("server WebSocket frames") == 0);
}

// Found by review: the relay sends a request again on a new upstream connection when the
// pooled one turns out closed, and attaches that connection in the middle of the exchange;
// that attach restarted the parsers and lost the WebSocket waiting for its 101.
TEST_CASE("an upgrade request sent again on a new upstream connection keeps its WebSocket") {
    http1_reassembler r(conn(1), 1 << 20);
    r.attach({}, {});
    r.feed(c2s, at_ms(1), upgrade_request);
    r.attach({"192.0.2.7", 443}, {});
    r.feed(s2c, at_ms(2), switching() + ws_receive("hello"));
    r.feed(c2s, at_ms(3), ws_send("hi"));
    r.close(at_ms(4), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].response.status == 101);
    CHECK(messages_of(xs[0]) == std::vector<message_view>{{s2c, 2, "hello"}, {c2s, 3, "hi"}});
}

TEST_CASE("the cap is shared by both directions") {
    http1_reassembler r(conn(1), sizeof(websocket_message) + 10); // one record, 10 data bytes
    r.feed(c2s, at_ms(1), upgrade_request);
    r.feed(s2c, at_ms(2), switching() + ws_receive("123456"));
    r.feed(c2s, at_ms(3), ws_send("12345"));
    r.feed(s2c, at_ms(4), ws_receive("1"));
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(messages_of(xs[0]) == std::vector<message_view>{{s2c, 2, "123456"}});
    CHECK(xs[0].websocket->budget.messages_left_out == 2);
    CHECK(xs[0].websocket->budget.bytes_left_out == 6);
}

TEST_CASE("a cut or lost WebSocket connection is incomplete") {
    SUBCASE("aborted") {
        http1_reassembler r(conn(1), 1 << 20);
        r.feed(c2s, at_ms(1), upgrade_request);
        r.feed(s2c, at_ms(2), switching() + ws_receive("partial message", 1, false));
        r.close(at_ms(3), true);
        const auto xs = r.take_finished();
        REQUIRE(xs.size() == 1);
        CHECK(xs[0].problem == "connection aborted");
        CHECK(xs[0].websocket->messages.empty());
    }
    SUBCASE("bytes lost") {
        http1_reassembler r(conn(1), 1 << 20);
        r.feed(c2s, at_ms(1), upgrade_request);
        r.feed(s2c, at_ms(2), switching() + ws_receive("kept"));
        r.abandon(at_ms(3), "queue full");
        r.feed(s2c, at_ms(4), ws_receive("after the loss"));
        r.close(at_ms(5), false);
        const auto xs = r.take_finished();
        REQUIRE(xs.size() == 1);
        CHECK(xs[0].problem == "queue full");
        CHECK(xs[0].ended == at_ms(3));
        CHECK(messages_of(xs[0]) == std::vector<message_view>{{s2c, 2, "kept"}});
    }
}

TEST_CASE("a refused upgrade or a 101 to another protocol records as before") {
    SUBCASE("the server answers 403") {
        http1_reassembler r(conn(1), 1 << 20);
        r.feed(c2s, at_ms(1), std::string(upgrade_request) + ws_send("early"));
        r.feed(s2c, at_ms(2), "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
        const auto xs = r.take_finished();
        REQUIRE(xs.size() == 1); // recorded at its response, as any exchange
        CHECK(xs[0].response.status == 403);
        CHECK(!xs[0].websocket);
        r.feed(c2s, at_ms(3), ws_send("ignored"));
        r.close(at_ms(4), false);
        CHECK(r.take_finished().empty());
    }
    SUBCASE("h2c") {
        http1_reassembler r(conn(1), 1 << 20);
        r.feed(c2s, at_ms(1),
               "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
               "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n");
        r.feed(s2c, at_ms(2),
               "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
               "\x00\x00\x00\x04");
        const auto xs = r.take_finished();
        REQUIRE(xs.size() == 1); // recorded at the 101
        CHECK(xs[0].response.status == 101);
        CHECK(!xs[0].websocket);
        r.close(at_ms(3), false);
        CHECK(r.take_finished().empty());
    }
}

TEST_CASE("a kept-alive exchange before the upgrade is recorded at its end") {
    http1_reassembler r(conn(1), 1 << 20);
    r.feed(c2s, at_ms(1), "GET /page HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(2), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(r.take_finished().size() == 1);
    r.feed(c2s, at_ms(3), upgrade_request);
    r.feed(s2c, at_ms(4), switching() + ws_receive("x"));
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].request.target == "/chat");
    CHECK(messages_of(xs[0]) == std::vector<message_view>{{s2c, 4, "x"}});
}

TEST_CASE("the whole connection split at every byte boundary gives the same messages") {
    const std::string client = std::string(upgrade_request) + ws_send("a", 1, false) +
                               ws_send("p", 9) + ws_send("b", 0) + ws_send(std::string(200, 'c'));
    const std::string server = switching() + ws_receive("d") + ws_receive(std::string(300, 'e'), 2);
    for (std::size_t i = 0; i <= std::max(client.size(), server.size()); ++i) {
        CAPTURE(i);
        http1_reassembler r(conn(1), 1 << 20);
        // The 101 cannot come before the request that asked for it; client frames can come
        // before the 101, and are held.
        const auto ci = std::clamp(i, upgrade_request.size(), client.size());
        const auto si = std::min(i, server.size());
        r.feed(c2s, at_ms(1), std::string_view(client).substr(0, ci));
        r.feed(s2c, at_ms(1), std::string_view(server).substr(0, si));
        r.feed(c2s, at_ms(1), std::string_view(client).substr(ci));
        r.feed(s2c, at_ms(1), std::string_view(server).substr(si));
        r.close(at_ms(2), false);
        const auto xs = r.take_finished();
        REQUIRE(xs.size() == 1);
        std::vector<std::string> data;
        for (const auto& m : xs[0].websocket->messages) {
            data.push_back(m.data);
        }
        std::sort(data.begin(), data.end()); // the directions' order depends on the split
        CHECK(data ==
              std::vector<std::string>{"ab", std::string(200, 'c'), "d", std::string(300, 'e')});
    }
}

} // namespace
} // namespace hoplens::capture
