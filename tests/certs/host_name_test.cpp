#include "certs/certs.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace hoplens::certs;

TEST_CASE("host names: accepted shapes and their canonical form") {
    struct row {
        std::string input;
        name_kind kind;
        std::string canonical;
        std::size_t ip_bytes;
    };
    const row rows[] = {
        {"example.com", name_kind::dns, "example.com", 0},
        {"API.Example.COM", name_kind::dns, "api.example.com", 0},
        {"example.com.", name_kind::dns, "example.com", 0},
        {"my_service.internal", name_kind::dns, "my_service.internal", 0},
        {"localhost", name_kind::dns, "localhost", 0},
        {"xn--bcher-kva.example", name_kind::dns, "xn--bcher-kva.example", 0},
        {"1a.example", name_kind::dns, "1a.example", 0},
        {"1.2.3.4a", name_kind::dns, "1.2.3.4a", 0}, // a numeric label is fine, but not last
        {"127.0.0.1", name_kind::ip, "127.0.0.1", 4},
        {"0.0.0.0", name_kind::ip, "0.0.0.0", 4},
        {"255.255.255.255", name_kind::ip, "255.255.255.255", 4},
        {"::1", name_kind::ip, "::1", 16},
        {"[::1]", name_kind::ip, "::1", 16},
        {"2001:DB8:0:0:0:0:0:1", name_kind::ip, "2001:db8::1", 16},
        {"2001:db8:0:0:1:0:0:1", name_kind::ip, "2001:db8::1:0:0:1", 16},
        {"2001:0db8:0000:0001:0001:0001:0001:0001", name_kind::ip, "2001:db8:0:1:1:1:1:1", 16},
        {"fe80::", name_kind::ip, "fe80::", 16},
        {"::", name_kind::ip, "::", 16},
    };
    for (const row& r : rows) {
        CAPTURE(r.input);
        const auto parsed = parse_host_name(r.input);
        REQUIRE(std::holds_alternative<host_name>(parsed));
        const host_name& name = std::get<host_name>(parsed);
        CHECK(name.kind == r.kind);
        CHECK(name.text == r.canonical);
        CHECK(name.ip.size() == r.ip_bytes);
    }
}

TEST_CASE("host names: refused shapes") {
    const std::string rejected[] = {
        "",
        ".",
        "a..b",
        ".example.com",
        "exa mple.com",
        "example.com/evil",
        "evil.com\r\nX-Injected: 1",
        std::string("nul\0byte.com", 12),
        "*.example.com",
        "CN=evil,O=x",
        "-leading.example",
        "trailing-.example",
        "b\xc3\xbc" "cher.example",
        std::string(64, 'a') + ".example",
        std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
            std::string(63, 'd'), // 255 bytes
        "1.2.3",
        "1.2.3.256",
        "01.2.3.4",
        "1.2.3.4.5",
        "::1%eth0",
        "[::1",
        "1:2:3:4:5:6:7:8:9",
        "gggg::1",
        "[example.com]",
    };
    for (const std::string& input : rejected) {
        CAPTURE(input);
        const auto parsed = parse_host_name(input);
        REQUIRE(std::holds_alternative<error>(parsed));
        CHECK(std::get<error>(parsed).code == errc::invalid_name);
    }
}

TEST_CASE("host names: 253 bytes is the longest accepted") {
    std::string name;
    while (name.size() < 253) {
        name += std::string(std::min<std::size_t>(63, 253 - name.size()), 'a');
        if (name.size() < 252) {
            name += '.';
        }
    }
    // 63+1+63+1+63+1+61 = 253
    REQUIRE(name.size() == 253);
    CHECK(std::holds_alternative<host_name>(parse_host_name(name)));
    CHECK(std::holds_alternative<error>(parse_host_name(name + "a")));
}
