#include "proxy/websocket_handshake.hpp"

#include "proxy/http1_serialize.hpp"
#include "head_of.hpp"

#include <doctest/doctest.h>

using namespace hoplens::proxy;

using test::head_of;

TEST_CASE("a WebSocket upgrade is recognized, and only websocket offered") {
    auto asks = [](std::string_view wire) {
        http1_parser p(message_kind::request, 8192);
        REQUIRE(p.feed(wire).status == parse_status::head_complete);
        return asks_for_websocket(p);
    };
    const std::string_view ws =
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
        "Upgrade: WebSocket, h2c\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK(asks(ws));
    CHECK(asks("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: foo/2, websocket\r\n"
               "Sec-WebSocket-Key: k\r\n\r\n"));
    CHECK_FALSE(
        asks("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")); // no key
    CHECK_FALSE(asks("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")); // not in Connection
    CHECK_FALSE(asks("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"));
    CHECK_FALSE(asks("POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                     "Content-Length: 3\r\n\r\n"));
    CHECK_FALSE(asks("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"));
    // RFC 6455 §11.3.1: the key appears once; an origin might answer either.
    CHECK_FALSE(asks("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n"));
    CHECK(asks("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Key: k\r\n\r\n"));

    http1_parser p(message_kind::request, 8192);
    const auto head = head_of(ws, p);
    std::string out;
    serialize_request_head(head, "/ws", "", connection_field::websocket, false, out);
    CHECK(out == "GET /ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
    serialize_request_head(head, "/ws", "", connection_field::keep_alive, false, out);
    CHECK(out == "GET /ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n");
}

TEST_CASE("a 101 is taken for a WebSocket only when it accepts the client's key") {
    http1_parser req(message_kind::request, 8192);
    const auto request =
        head_of("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n",
                req);
    auto verdict = [&](std::string_view fields) {
        http1_parser resp(message_kind::response, 8192);
        const auto head =
            head_of("HTTP/1.1 101 Switching Protocols\r\n" + std::string(fields) + "\r\n", resp);
        return websocket_refusal(request, head);
    };
    // RFC 6455 §1.3's example key and accept value.
    const std::string accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    CHECK(verdict("Upgrade: websocket\r\nConnection: Upgrade\r\n" + accept).empty());
    CHECK(verdict("upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n" + accept).empty());
    CHECK(verdict("Upgrade: h2c\r\nConnection: Upgrade\r\n" + accept) ==
          "its 101 does not switch to websocket");
    CHECK(verdict("Upgrade: websocket\r\n" + accept) == "its 101 does not say Connection: upgrade");
    CHECK(verdict("Upgrade: websocket\r\nConnection: Upgrade\r\n") ==
          "its 101 does not accept the client's Sec-WebSocket-Key");
    CHECK(verdict("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n") ==
          "its 101 does not accept the client's Sec-WebSocket-Key");
    // Found by review: whitespace around a value is not part of it (RFC 9110 §5.5), and the
    // fields checked appear once (RFC 6455 §11.3).
    CHECK(verdict("Upgrade: websocket \r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n")
              .empty());
    CHECK(verdict("Upgrade: websocket\r\nConnection: Upgrade\r\n" + accept +
                  "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n") ==
          "its 101 does not accept the client's Sec-WebSocket-Key");
    CHECK(verdict("Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n" + accept) ==
          "its 101 does not switch to websocket");
    CHECK(verdict("Upgrade: websocket\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" + accept) ==
          "its 101 does not switch to websocket");

    http1_parser spaced(message_kind::request, 8192);
    const auto spaced_key = head_of("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                    "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==  \r\n\r\n",
                                    spaced);
    http1_parser resp(message_kind::response, 8192);
    CHECK(websocket_refusal(spaced_key,
                            head_of("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n" + accept + "\r\n",
                                    resp))
              .empty());
}
