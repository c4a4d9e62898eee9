#include "capture/http1_reassembler.hpp"

#include "capture_test_util.hpp"

#include <doctest/doctest.h>

namespace hoplens::capture {
namespace {

using test::at_ms;
using test::conn;

constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

std::vector<exchange> run(std::string_view req, std::string_view resp, bool close = true) {
    http1_reassembler r(conn(1), 1024 * 1024);
    r.feed(c2s, at_ms(10), req);
    r.feed(s2c, at_ms(20), resp);
    if (close) {
        r.close(at_ms(30), false);
    }
    return r.take_finished();
}

TEST_CASE("a simple GET becomes one complete exchange with wire sizes") {
    const std::string_view req = "GET /a?x=1 HTTP/1.1\r\nHost: example.test\r\nX-A: 1\r\n\r\n";
    const std::string_view resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    const auto xs = run(req, resp);
    REQUIRE(xs.size() == 1);
    const exchange& x = xs[0];
    CHECK(x.problem.empty());
    CHECK(x.request.method == "GET");
    CHECK(x.request.target == "/a?x=1");
    CHECK(x.request.version == "HTTP/1.1");
    REQUIRE(x.request.headers.size() == 2);
    CHECK(x.request.headers[0].name == "Host");
    CHECK(x.request.headers[1].value == "1");
    CHECK(x.request.head_bytes == req.size());
    CHECK(x.request.body_wire_bytes == 0);
    CHECK(x.response.status == 200);
    CHECK(x.response.reason == "OK");
    CHECK(x.response.head_bytes == resp.size() - 5);
    CHECK(x.response.body_wire_bytes == 5);
    CHECK(x.response.body->kept() == "hello");
    CHECK(x.request.first_byte == at_ms(10));
    CHECK(x.response.first_byte == at_ms(20));
    CHECK(x.response.last_byte == at_ms(20));
}

TEST_CASE("a chunked body is de-chunked; bodySize counts the framing") {
    const std::string_view resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    const auto xs = run("GET / HTTP/1.1\r\nHost: h\r\n\r\n", resp);
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.empty());
    CHECK(xs[0].response.body->kept() == "hello world");
    const auto head = std::string_view(resp).find("\r\n\r\n") + 4;
    CHECK(xs[0].response.head_bytes == head);
    CHECK(xs[0].response.body_wire_bytes == resp.size() - head);
}

TEST_CASE("pipelined requests pair with responses in order") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1),
           "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
           "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    CHECK(r.take_finished().empty());
    r.feed(s2c, at_ms(5), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 404 Nope\r\n");
    r.feed(s2c, at_ms(6), "Content-Length: 1\r\n\r\n2");
    r.feed(s2c, at_ms(7), "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n3");
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 3);
    CHECK(xs[0].request.target == "/1");
    CHECK(xs[0].response.body->kept() == "1");
    CHECK(xs[1].request.target == "/2");
    CHECK(xs[1].response.status == 404);
    CHECK(xs[1].response.first_byte == at_ms(5));
    CHECK(xs[1].response.last_byte == at_ms(6));
    CHECK(xs[2].request.method == "POST");
    CHECK(xs[2].request.body->kept() == "abc");
    CHECK(xs[2].response.status == 201);
}

TEST_CASE("keep-alive: requests one after another each get their exchange and timings") {
    http1_reassembler r(conn(1), 1024);
    r.attach({"127.0.0.9", 8443}, {1000, 2000, 3000, 4000});
    for (int i = 0; i < 3; ++i) {
        r.feed(c2s, at_ms(100 * i), "GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
        r.feed(s2c, at_ms(100 * i + 50), "HTTP/1.1 204 No Content\r\n\r\n");
    }
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 3);
    CHECK(xs[0].timings.dns_us == 2000);
    CHECK(xs[0].server.port == 8443);
    CHECK(xs[1].timings.dns_us == -1); // the connection was reused
    CHECK(xs[2].timings.connect_us == -1);
    CHECK(xs[2].response.first_byte == at_ms(250));
}

TEST_CASE("HEAD, 204 and 304 responses have no body whatever their headers say") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1),
           "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n"
           "GET /m HTTP/1.1\r\nHost: h\r\n\r\nGET /last HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(2),
           "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
           "HTTP/1.1 204 No Content\r\n\r\n"
           "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 4);
    CHECK(xs[0].response.body_wire_bytes == 0);
    CHECK(xs[1].response.status == 204);
    CHECK(xs[2].response.status == 304);
    CHECK(xs[3].response.body->kept() == "ok");
    for (const auto& x : xs) {
        CHECK(x.problem.empty());
    }
}

TEST_CASE("an interim 100 Continue is skipped; the final response is paired") {
    const auto xs =
        run("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
            "Expect: 100-continue\r\n\r\nhi",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].response.status == 200);
    CHECK(xs[0].response.headers.size() == 1);
    CHECK(xs[0].problem.empty());
}

TEST_CASE("after a 100 Continue the wait ends at the final response's first byte") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(10), "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                           "Expect: 100-continue\r\n\r\n");
    r.feed(s2c, at_ms(20), "HTTP/1.1 100 Continue\r\n\r\n");
    r.feed(c2s, at_ms(5000), "hi");
    r.feed(s2c, at_ms(9000), "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].response.status == 201);
    CHECK(xs[0].request.last_byte == at_ms(5000));
    CHECK(xs[0].response.first_byte == at_ms(9000));
}

TEST_CASE("HTTP/1.0 messages on a connection the relay keeps open are all recorded") {
    // The relay forwards HTTP/1.0 heads without their Connection: keep-alive; what follows
    // on the stream is the next exchange, on both sides.
    const auto xs = run("GET /1 HTTP/1.0\r\nHost: h\r\n\r\nGET /2 HTTP/1.0\r\nHost: h\r\n\r\n"
                        "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na"
                        "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb"
                        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc");
    REQUIRE(xs.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(xs[i].problem.empty());
        CHECK(xs[i].request.target == "/" + std::to_string(i + 1));
        CHECK(xs[i].response.body->kept() == std::string(1, char('a' + i)));
    }
}

TEST_CASE("trailer fields are not taken for header fields, however long") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(2), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
                          "X-Trailer: ");
    for (int i = 0; i < 64; ++i) {
        r.feed(s2c, at_ms(3), std::string(16 * 1024, 'a'));
    }
    r.feed(s2c, at_ms(4), "\r\nX-Other: 1\r\n\r\n");
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.empty());
    REQUIRE(xs[0].response.headers.size() == 1);
    CHECK(xs[0].response.headers[0].name == "Transfer-Encoding");
    CHECK(xs[0].response.body->kept() == "x");
}

TEST_CASE("a response delimited by the close completes at close") {
    const auto xs = run("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\nuntil eof");
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.empty());
    CHECK(xs[0].response.body->kept() == "until eof");
    CHECK(xs[0].response.body_wire_bytes == 9);
    CHECK(xs[0].response.last_byte == at_ms(30));
}

TEST_CASE("a response delimited by the close is incomplete when the connection was cut") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(2), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npartial");
    r.close(at_ms(3), true);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem == "connection aborted before the response ended");
    CHECK(!xs[0].response.complete);
    CHECK(xs[0].response.body->kept() == "partial");
}

TEST_CASE("a connection cut mid-body is recorded as incomplete with what arrived") {
    const auto xs = run("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].problem == "connection closed before the response ended");
    CHECK(xs[0].response.status == 200);
    CHECK(xs[0].response.body->kept() == "partial");
    CHECK(xs[1].problem == "connection closed before a response");
    CHECK(!xs[1].response.started);
}

TEST_CASE("a request cut mid-body is incomplete; nothing is invented") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1), "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    r.close(at_ms(2), true);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem == "connection aborted before the request ended");
    CHECK(xs[0].request.body->kept() == "abc");
}

TEST_CASE("lost bytes end the exchanges in flight and stop parsing") {
    http1_reassembler r(conn(1), 1024);
    r.feed(c2s, at_ms(1), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.abandon(at_ms(2), "dropped");
    r.feed(s2c, at_ms(3), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    r.close(at_ms(4), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem == "dropped");
}

TEST_CASE("after lost bytes, the connection's next exchange is recorded whole") {
    http1_reassembler r(conn(1), 1024);
    r.attach({}, {});
    r.feed(c2s, at_ms(1), "GET /first HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(2), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    r.abandon(at_ms(3), "dropped"); // the rest of the body never reached the capture
    r.feed(s2c, at_ms(4), "9");     // a piece after the loss, in the middle of the body
    r.attach({}, {});               // the relay starts the next exchange
    r.feed(c2s, at_ms(5), "GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(6), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r.close(at_ms(7), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].request.target == "/first");
    CHECK(xs[0].problem == "dropped");
    CHECK(xs[1].request.target == "/second");
    CHECK(xs[1].problem.empty());
    CHECK(xs[1].request.head_bytes == std::string_view("GET /second HTTP/1.1\r\nHost: h\r\n\r\n").size());
    CHECK(xs[1].response.body->kept() == "ok");
    CHECK(xs[1].response.first_byte == at_ms(6));
}

TEST_CASE("a declined upgrade leaves the connection's later exchanges recorded") {
    http1_reassembler r(conn(1), 1024);
    r.attach({}, {});
    r.feed(c2s, at_ms(1), "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                          "Connection: upgrade\r\n\r\n");
    r.feed(s2c, at_ms(2), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno");
    r.attach({}, {});
    r.feed(c2s, at_ms(3), "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(4), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes");
    r.close(at_ms(5), false);
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].response.body->kept() == "no");
    CHECK(xs[1].request.target == "/next");
    CHECK(xs[1].problem.empty());
    CHECK(xs[1].response.body->kept() == "yes");
}

// Found by the http1_reassembly fuzzer: a request arriving while a response with no request
// was still in its body made the rest of that body land on the new, body-less exchange.
TEST_CASE("a response before any request stays an orphan to its end; the next pairs normally") {
    http1_reassembler r(conn(1), 1024);
    r.feed(s2c, at_ms(1), "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello");
    r.feed(c2s, at_ms(2), "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    r.feed(s2c, at_ms(3), "!HTTP/1.1 204 No Content\r\n\r\n");
    const auto xs = r.take_finished();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.empty());
    CHECK(xs[0].request.target == "/b");
    CHECK(xs[0].response.status == 204);
}

TEST_CASE("garbage from the server ends the exchange as incomplete") {
    const auto xs = run("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "SSH-2.0-OpenSSH\r\n");
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].problem.starts_with("HTTP/1 parse error"));
}

TEST_CASE("heads and bodies split at every byte boundary reassemble the same") {
    const std::string req = "POST /p?q=1 HTTP/1.1\r\nHost: example.test\r\nCookie: a=b\r\n"
                            "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody";
    const std::string resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Long: "
                             "vvvvvvvvvvvvvvvvvv\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (std::size_t cut = 0; cut <= std::max(req.size(), resp.size()); ++cut) {
        http1_reassembler r(conn(1), 1024);
        const auto rc = std::min(cut, req.size());
        const auto sc = std::min(cut, resp.size());
        r.feed(c2s, at_ms(1), std::string_view(req).substr(0, rc));
        r.feed(c2s, at_ms(2), std::string_view(req).substr(rc));
        r.feed(s2c, at_ms(3), std::string_view(resp).substr(0, sc));
        r.feed(s2c, at_ms(4), std::string_view(resp).substr(sc));
        const auto xs = r.take_finished();
        REQUIRE_MESSAGE(xs.size() == 1, "cut at " << cut);
        const exchange& x = xs[0];
        CHECK(x.request.headers.size() == 4);
        CHECK(x.request.headers[1].value == "a=b");
        CHECK(x.request.target == "/p?q=1");
        CHECK(x.request.body->kept() == "body");
        CHECK(x.request.head_bytes == req.size() - 4);
        CHECK(x.response.headers[1].value == "vvvvvvvvvvvvvvvvvv");
        CHECK(x.response.body->kept() == "abcde");
        CHECK(x.response.head_bytes + x.response.body_wire_bytes == resp.size());
    }
}

} // namespace
} // namespace hoplens::capture
