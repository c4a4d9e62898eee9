#include "proxy/http1_serialize.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace hoplens::proxy;

namespace {

// Feeds `wire` split at `split` and returns the statuses seen, with body bytes collected.
struct run_result {
    parse_status last = parse_status::need_more;
    bool head_seen = false;
    std::string body_and_rest; // bytes consumed after the head
    std::size_t consumed_total = 0;
};

run_result feed_all(http1_parser& p, std::string_view wire, std::size_t split) {
    run_result r;
    std::string_view parts[2] = {wire.substr(0, split), wire.substr(split)};
    for (auto part : parts) {
        while (true) {
            const auto step = p.feed(part);
            r.last = step.status;
            if (r.head_seen) {
                r.body_and_rest.append(part.substr(0, step.consumed));
            }
            r.consumed_total += step.consumed;
            part.remove_prefix(step.consumed);
            if (step.status == parse_status::head_complete) {
                r.head_seen = true;
                continue;
            }
            if (step.status != parse_status::need_more || part.empty()) {
                break;
            }
        }
        if (r.last == parse_status::message_complete || r.last == parse_status::bad_message ||
            r.last == parse_status::head_too_large) {
            break;
        }
    }
    return r;
}

} // namespace

TEST_CASE("a request without body completes right after its head, at every split point") {
    const std::string wire = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nGET /next";
    const auto first_len = wire.find("GET /next");
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        http1_parser p(message_kind::request, 8192);
        const auto r = feed_all(p, wire, split);
        CAPTURE(split);
        REQUIRE(r.last == parse_status::message_complete);
        CHECK(r.consumed_total == first_len);
        CHECK(p.head().method() == "GET");
        CHECK(p.head().target() == "/a?b=1");
        CHECK(p.head().find("host") == "x");
        CHECK(p.head().find("USER-AGENT") == "t");
        CHECK(p.keep_alive());
    }
}

TEST_CASE("raw UTF-8 in a target is taken, as curl sends it") {
    // llhttp's strict mode refuses bytes >= 0x80 in the URL: it is not used (see body_out()).
    http1_parser p(message_kind::request, 8192);
    const auto r = feed_all(p, "GET http://h/caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 0);
    CHECK(r.last == parse_status::message_complete);
    CHECK(p.head().target() == "http://h/caf\xc3\xa9");
}

TEST_CASE("content-length and chunked bodies end exactly where the message ends") {
    const std::string cl = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET";
    const std::string chunked =
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET";
    for (const auto& wire : {cl, chunked}) {
        for (std::size_t split = 0; split <= wire.size(); ++split) {
            http1_parser p(message_kind::request, 8192);
            const auto r = feed_all(p, wire, split);
            CAPTURE(split);
            REQUIRE(r.last == parse_status::message_complete);
            CHECK(r.consumed_total == wire.size() - 3);
        }
    }
}

TEST_CASE("smuggling shapes and bad chunks are rejected") {
    const char* bad[] = {
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "\x16\x03\x01\x02\x00garbage",
        // Heads llhttp takes but the next hop may read differently.
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET /\r\n\r\n", // HTTP/0.9
        "GET / HTTP/1.1\r\n: empty\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer Encoding: chunked\r\n\r\n",
        "GET http://h/a\tHTTP/1.0\tb HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    for (const char* wire : bad) {
        http1_parser p(message_kind::request, 8192);
        const auto r = feed_all(p, wire, 0);
        CAPTURE(wire);
        CHECK(r.last == parse_status::bad_message);
        CHECK(!p.error_reason().empty());
    }
}

TEST_CASE("a head larger than the limit is reported as too large") {
    std::string wire = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n";
    http1_parser p(message_kind::request, 4096);
    CHECK(feed_all(p, wire, 0).last == parse_status::head_too_large);
}

TEST_CASE("responses: HEAD has no body, close-delimited bodies end at finish") {
    {
        http1_parser p(message_kind::response, 8192);
        p.expect_no_body();
        const auto r = feed_all(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0);
        CHECK(r.last == parse_status::message_complete);
    }
    {
        http1_parser p(message_kind::response, 8192);
        const auto r = feed_all(p, "HTTP/1.1 200 OK\r\nServer: y\r\n\r\nsome body", 0);
        CHECK(r.last == parse_status::need_more);
        CHECK(p.body_until_close());
        CHECK(p.finish() == parse_status::message_complete);
    }
    {
        http1_parser p(message_kind::response, 8192);
        const auto r = feed_all(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut", 0);
        CHECK(r.last == parse_status::need_more);
        CHECK(p.finish() == parse_status::bad_message);
    }
    {
        http1_parser p(message_kind::response, 8192);
        const auto r = feed_all(p, "HTTP/1.1 204 No Content\r\n\r\n", 0);
        CHECK(r.last == parse_status::message_complete);
        CHECK(p.head().status == 204);
    }
}

// What a chunked body sends on: body_out() of every step, the message fed in two parts.
std::string sent_on(const std::string& wire, std::size_t split,
                    message_kind kind = message_kind::request) {
    http1_parser p(kind, 8192);
    std::string out;
    std::string_view parts[2] = {std::string_view(wire).substr(0, split),
                                 std::string_view(wire).substr(split)};
    bool in_body = false;
    for (auto part : parts) {
        while (!part.empty() || in_body) {
            const auto step = p.feed(part);
            REQUIRE(step.status != parse_status::bad_message);
            if (in_body) {
                out.append(p.body_out(part.substr(0, step.consumed)));
            }
            part.remove_prefix(step.consumed);
            if (step.status == parse_status::message_complete) {
                return out;
            }
            in_body = in_body || step.status == parse_status::head_complete;
            if (step.status == parse_status::need_more) {
                break;
            }
        }
    }
    return out + "<incomplete>";
}

TEST_CASE("a chunked body is sent on re-framed, as this parser read it, at every split") {
    const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    // llhttp takes any two bytes after a chunk's data: an origin reading a lone LF as the line
    // end would see `10` as the next chunk's size and the rest as a smuggled request. What
    // goes on is what was parsed here: one chunk "A", then the end.
    const std::string smuggle = head + "1\r\nA\n10\r\n\r\n";
    // Extensions and trailers are not sent on; sizes are plain hex.
    const std::string ordinary = head + "3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
    for (std::size_t split = 0; split <= ordinary.size(); ++split) {
        CAPTURE(split);
        if (split <= smuggle.size()) {
            CHECK(sent_on(smuggle, split) == "1\r\nA\r\n0\r\n\r\n");
        }
        CHECK(sent_on(ordinary, split) == "3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n");
    }
    // A trailer that names Transfer-Encoding makes llhttp forget the body was chunked; the
    // head said so, and the re-framing holds.
    const std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "1\r\nA\n10\r\nTransfer-Encoding: gzip\r\n\r\n";
    for (std::size_t split = 0; split <= response.size(); ++split) {
        CAPTURE(split);
        CHECK(sent_on(response, split, message_kind::response) == "1\r\nA\r\n0\r\n\r\n");
    }
}

TEST_CASE("204 and 304 responses end at their head whatever their framing headers say") {
    // Otherwise the bytes after the head (the next response, or nothing: a 304's
    // Content-Length describes the cached body) would be taken as this one's body.
    const std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED";
    for (const std::string head : {"HTTP/1.1 204 No Content\r\nContent-Length: 45\r\n\r\n",
                                   "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
                                   "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
        http1_parser p(message_kind::response, 8192);
        const auto r = feed_all(p, head + next, 0);
        CAPTURE(head);
        CHECK(r.last == parse_status::message_complete);
        CHECK(r.consumed_total == head.size());
        CHECK(!p.body_until_close());
    }
}

TEST_CASE("a response's field name loses the space before its colon; a request's is refused") {
    http1_parser resp(message_kind::response, 8192);
    CHECK(feed_all(resp, "HTTP/1.1 200 OK\r\nX-Foo : bar\r\nContent-Length: 0\r\n\r\n", 0).last ==
          parse_status::message_complete);
    CHECK(resp.head().find("x-foo") == "bar");
    std::string out;
    serialize_response_head(resp.head(), connection_field::keep_alive, out);
    CHECK(out == "HTTP/1.1 200 OK\r\nX-Foo: bar\r\nContent-Length: 0\r\n\r\n");
    http1_parser req(message_kind::request, 8192);
    CHECK(feed_all(req, "GET / HTTP/1.1\r\nX-Foo : bar\r\nHost: x\r\n\r\n", 0).last ==
          parse_status::bad_message);
}

TEST_CASE("reset allows the next message on the same connection") {
    http1_parser p(message_kind::request, 8192);
    CHECK(feed_all(p, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n", 0).last == parse_status::message_complete);
    p.reset();
    CHECK(feed_all(p, "GET /2 HTTP/1.0\r\n\r\n", 0).last == parse_status::message_complete);
    CHECK(p.head().target() == "/2");
    CHECK(!p.keep_alive());
}

TEST_CASE("hop-by-hop fields are dropped, the rest kept in order") {
    http1_parser p(message_kind::request, 8192);
    feed_all(p,
             "GET http://h/x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
             "Proxy-Connection: keep-alive\r\nAccept: */*\r\nKeep-Alive: 5\r\n\r\n",
             0);
    std::string out = "left over";
    serialize_request_head(p.head(), "/x", "", connection_field::keep_alive, false, out);
    CHECK(out == "GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n");
    serialize_request_head(p.head(), "/x", "", connection_field::close, false, out);
    CHECK(out == "GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nConnection: close\r\n\r\n");
}

TEST_CASE("heads split at every byte keep their fields; a reset parser reuses its storage") {
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: x-a\r\n"
                             "X-A: gone\r\nContent-Length: 0\r\n\r\n";
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        http1_parser p(message_kind::response, 8192);
        CAPTURE(split);
        REQUIRE(feed_all(p, wire, split).last == parse_status::message_complete);
        CHECK(p.head().status == 200);
        CHECK(p.head().reason() == "OK");
        CHECK(p.head().find("content-type") == "text/plain");
        CHECK(p.head().field_count() == 4);
        std::string out;
        serialize_response_head(p.head(), connection_field::keep_alive, out);
        CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
        p.reset();
        CHECK(p.head().field_count() == 0);
        CHECK(p.head().reason().empty());
    }
}

TEST_CASE("Expect: 100-continue is dropped only when hoplens answered it") {
    http1_parser p(message_kind::request, 8192);
    feed_all(p, "PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 0);
    CHECK(p.expects_continue());
    std::string out;
    serialize_request_head(p.head(), "/u", "", connection_field::keep_alive, true, out);
    CHECK(out == "PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
    serialize_request_head(p.head(), "/u", "", connection_field::keep_alive, false, out);
    CHECK(out.find("Expect: 100-continue\r\n") != std::string::npos);
}

TEST_CASE("error responses carry the reason as their body") {
    const auto r = make_error_response(502, "upstream certificate for a.test: bad");
    CHECK(r.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
    CHECK(r.find("Content-Length: 37\r\n") != std::string::npos);
    CHECK(r.ends_with("\r\n\r\nupstream certificate for a.test: bad\n"));
    // RFC 9110 §9.3.2: the answer to HEAD is the same head, with no body.
    const auto h = make_error_response(502, "upstream certificate for a.test: bad", true);
    CHECK(h == r.substr(0, r.find("\r\n\r\n") + 4));
}

TEST_CASE("an upgrade request and its 101 end at their heads: what follows is the new protocol") {
    const std::string request = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n\r\n";
    const std::string frames = "\x81\x05hello\x88\x00";
    for (const auto& [kind, head] : {std::pair{message_kind::request, request},
                                     std::pair{message_kind::response, response}}) {
        for (std::size_t split = 0; split <= head.size() + frames.size(); ++split) {
            CAPTURE(split);
            http1_parser p(kind, 8192);
            const auto r = feed_all(p, head + frames, split);
            REQUIRE(r.last == parse_status::message_complete);
            CHECK(r.consumed_total == head.size());
            CHECK(p.upgrade());
        }
    }
    http1_parser plain(message_kind::request, 8192);
    feed_all(plain, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 0);
    CHECK_FALSE(plain.upgrade()); // Upgrade without `Connection: upgrade` asks for nothing
}
