#include "proxy/request_target.hpp"

#include <doctest/doctest.h>

using namespace hoplens::proxy;

TEST_CASE("CONNECT authorities: names, IPv4, bracketed IPv6; bad ones refused") {
    struct good_case {
        const char* text;
        const char* host;
        std::uint16_t port;
    };
    const good_case good[] = {
        {"Origin.Test:443", "origin.test", 443},
        {"127.0.0.2:8443", "127.0.0.2", 8443},
        {"[::1]:9443", "::1", 9443},
        {"a_b.example:1", "a_b.example", 1},
    };
    for (const auto& c : good) {
        CAPTURE(c.text);
        const auto hp = parse_authority(c.text, std::nullopt);
        REQUIRE(hp);
        CHECK(hp->host == c.host);
        CHECK(hp->port == c.port);
    }
    const char* bad[] = {"",           "host",          "host:0",     "host:65536", "host:x",
                         ":443",       "::1:443",       "[::1",       "[::1]x",     "[host]:1",
                         "a b:443",    "a/b:443",       "a@b:443",    "host:443 ",  "h\r\n:1"};
    for (const char* text : bad) {
        CAPTURE(text);
        CHECK_FALSE(parse_authority(text, std::nullopt));
    }
    CHECK(parse_authority("host", 80)->port == 80);
}

TEST_CASE("absolute-form targets become origin-form") {
    auto t = parse_absolute_form("http://Example.COM:8080/a/b?c=d#frag");
    REQUIRE(t);
    CHECK_FALSE(t->tls);
    CHECK(t->authority.host == "example.com");
    CHECK(t->authority.port == 8080);
    CHECK(t->origin_form == "/a/b?c=d");

    t = parse_absolute_form("https://[::1]");
    REQUIRE(t);
    CHECK(t->tls);
    CHECK(t->authority.port == 443);
    CHECK(t->origin_form == "/");

    t = parse_absolute_form("HTTP://h?q=1");
    REQUIRE(t);
    CHECK(t->origin_form == "/?q=1");

    CHECK_FALSE(parse_absolute_form("/relative"));
    CHECK_FALSE(parse_absolute_form("ftp://h/"));
    CHECK_FALSE(parse_absolute_form("http://user@h/"));
    CHECK_FALSE(parse_absolute_form("http:///path"));
}

TEST_CASE("authority text brackets IPv6") {
    CHECK(authority_text({"::1", 443}) == "[::1]:443");
    CHECK(authority_text({"a.test", 80}) == "a.test:80");
}
