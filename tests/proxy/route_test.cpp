#include "proxy/relay_support.hpp"

#include "proxy/http1_serialize.hpp"
#include "head_of.hpp"

#include <doctest/doctest.h>

using namespace hoplens::proxy;

using test::head_of;

TEST_CASE("each listener mode routes a request to its own target") {
    std::string why;
    SUBCASE("explicit: the absolute URL, sent on in origin form") {
        http1_parser p(message_kind::request, 8192);
        const auto head = head_of("GET http://Site.Test:8080/a?b HTTP/1.1\r\nHost: x\r\n\r\n", p);
        client_leg client;
        client.mode = hoplens::conf::listen_mode::explicit_proxy;
        const auto r = route(client, head, why);
        REQUIRE(r);
        CHECK(r->target.key() == "http://site.test:8080");
        CHECK(r->origin_form == "/a?b");
        // RFC 9112 §3.2.2: the URL's authority is the Host sent on, not the client's Host.
        CHECK(r->host == "site.test:8080");
        std::string out;
        serialize_request_head(head, r->origin_form, r->host, connection_field::keep_alive, false,
                               out);
        CHECK(out == "GET /a?b HTTP/1.1\r\nHost: site.test:8080\r\n\r\n");

        http1_parser d(message_kind::request, 8192);
        const auto r2 = route(client, head_of("GET http://[::1]/ HTTP/1.1\r\n\r\n", d), why);
        REQUIRE(r2);
        CHECK(r2->host == "[::1]"); // the default port is left out, as a client writes it

        http1_parser q(message_kind::request, 8192);
        CHECK_FALSE(route(client, head_of("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", q), why));
        CHECK(why.find("absolute URL") != std::string::npos);
    }
    SUBCASE("http: the Host header") {
        http1_parser p(message_kind::request, 8192);
        client_leg client;
        client.mode = hoplens::conf::listen_mode::http;
        const auto r = route(client, head_of("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n", p), why);
        REQUIRE(r);
        CHECK(r->target.key() == "http://api.test:80");
        CHECK(r->origin_form == "/x");
        CHECK(r->host.empty()); // origin form: the client's Host is the one sent on

        http1_parser q(message_kind::request, 8192);
        CHECK_FALSE(route(client, head_of("GET /x HTTP/1.1\r\nHost: a b\r\n\r\n", q), why));
    }
    SUBCASE("TLS modes: the connection's fixed target whatever the request names") {
        http1_parser p(message_kind::request, 8192);
        client_leg client;
        client.mode = hoplens::conf::listen_mode::sni;
        client.fixed_target = upstream_target{host_port{"origin.test", 443}, true};
        const auto r = route(client, head_of("GET /y HTTP/1.1\r\nHost: elsewhere\r\n\r\n", p), why);
        REQUIRE(r);
        CHECK(r->target.key() == "https://origin.test:443");
        CHECK(r->origin_form == "/y");
    }
}
