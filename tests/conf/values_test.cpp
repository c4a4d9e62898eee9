#include "conf/conf.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <array>

using namespace hoplens::conf;

namespace {

template <class T> std::string error(const std::variant<T, std::string>& v) {
    const auto* e = std::get_if<std::string>(&v);
    return e ? *e : "(ok)";
}

} // namespace

TEST_CASE("parse_listen accepts every mode, IPv4 and IPv6") {
    struct row {
        std::string text;
        listen_mode mode;
        std::string address;
        std::uint16_t port;
        std::string reverse_host;
        std::uint16_t reverse_port;
    };
    const std::vector<row> rows{
        {"explicit@127.0.0.1:8080", listen_mode::explicit_proxy, "127.0.0.1", 8080, "", 443},
        {"sni@0.0.0.0:443", listen_mode::sni, "0.0.0.0", 443, "", 443},
        {"http@[::1]:80", listen_mode::http, "::1", 80, "", 443},
        {"sni@[::]:0", listen_mode::sni, "::", 0, "", 443},
        {"reverse:https://origin.test@127.0.0.1:8443", listen_mode::reverse, "127.0.0.1", 8443,
         "origin.test", 443},
        {"reverse:https://Origin.Test:9443/@127.0.0.1:8443", listen_mode::reverse, "127.0.0.1",
         8443, "origin.test", 9443},
        {"reverse:https://[2001:db8::1]:444@[::1]:8443", listen_mode::reverse, "::1", 8443,
         "2001:db8::1", 444},
        {"reverse:https://10.0.0.7@127.0.0.1:1", listen_mode::reverse, "127.0.0.1", 1, "10.0.0.7",
         443},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        const auto parsed = parse_listen(r.text);
        REQUIRE_MESSAGE(std::holds_alternative<listen_spec>(parsed), error(parsed));
        const auto& spec = std::get<listen_spec>(parsed);
        CHECK(spec.mode == r.mode);
        CHECK(spec.bind.address == r.address);
        CHECK(spec.bind.port == r.port);
        CHECK(spec.reverse_host == r.reverse_host);
        CHECK(spec.reverse_port == r.reverse_port);
        CHECK(spec.text == r.text);
    }
}

TEST_CASE("parse_listen rejects malformed specs with a reason") {
    const std::vector<std::pair<std::string, std::string>> rows{
        {"foo@127.0.0.1:8080",
         "unknown mode 'foo' (expected explicit, sni, http or reverse:https://HOST[:PORT]) in "
         "'foo@127.0.0.1:8080'"},
        {"127.0.0.1:8080", "expected MODE@ADDR:PORT in '127.0.0.1:8080'"},
        {"", "expected MODE@ADDR:PORT in ''"},
        {"sni@localhost:443",
         "'localhost' is not a numeric IPv4 or [IPv6] address in 'sni@localhost:443'"},
        {"sni@127.0.0.1", "missing port in 'sni@127.0.0.1'"},
        {"sni@127.0.0.1:", "missing port in 'sni@127.0.0.1:'"},
        {"sni@:443", "missing address in 'sni@:443'"},
        {"sni@127.0.0.1:65536", "bad port '65536' (expected 0-65535) in 'sni@127.0.0.1:65536'"},
        {"sni@127.0.0.1:-1", "bad port '-1' (expected 0-65535) in 'sni@127.0.0.1:-1'"},
        {"sni@127.0.0.1:80x", "bad port '80x' (expected 0-65535) in 'sni@127.0.0.1:80x'"},
        {"sni@::1:8080", "IPv6 addresses need brackets, as in [::1]:8080 in 'sni@::1:8080'"},
        {"sni@[::1:8080", "missing ']' in 'sni@[::1:8080'"},
        {"sni@[::1]8080", "unexpected '8080' after ']' in 'sni@[::1]8080'"},
        {"sni@[127.0.0.1]:80", "'127.0.0.1' is not a numeric IPv4 or [IPv6] address in "
                               "'sni@[127.0.0.1]:80'"},
        {"sni@127.1:80", "'127.1' is not a numeric IPv4 or [IPv6] address in 'sni@127.1:80'"},
        {"reverse@127.0.0.1:80", "reverse mode needs a target, as in reverse:https://HOST[:PORT] "
                                 "in 'reverse@127.0.0.1:80'"},
        {"reverse:http://a.test@127.0.0.1:80",
         "reverse target must be https://HOST[:PORT] in 'reverse:http://a.test@127.0.0.1:80'"},
        {"reverse:https://a.test/x@127.0.0.1:80",
         "reverse target takes no path, query or user in 'reverse:https://a.test/x@127.0.0.1:80'"},
        {"reverse:https://a.test:0@127.0.0.1:80",
         "bad port '0' (expected 1-65535) in 'reverse:https://a.test:0@127.0.0.1:80'"},
        {"reverse:https://@127.0.0.1:80",
         "reverse target has no host in 'reverse:https://@127.0.0.1:80'"},
        {"reverse:https://a_b!.test@127.0.0.1:80",
         "bad host 'a_b!.test' in 'reverse:https://a_b!.test@127.0.0.1:80'"},
        {"reverse:https://[zz]@127.0.0.1:80",
         "bad IPv6 address 'zz' in 'reverse:https://[zz]@127.0.0.1:80'"},
    };
    // Named copies, not structured bindings: clang 14 cannot capture those in CAPTURE.
    for (const auto& entry : rows) {
        const auto& text = entry.first;
        const auto& message = entry.second;
        CAPTURE(text);
        CHECK(error(parse_listen(text)) == message);
    }
}

TEST_CASE("the last '@' splits the mode from the address") {
    // A user part in the reverse URL would put an '@' inside the mode; it is refused, not
    // misread as the bind address.
    CHECK(error(parse_listen("reverse:https://u@a.test@127.0.0.1:80")) ==
          "reverse target takes no path, query or user in 'reverse:https://u@a.test@127.0.0.1:80'");
}

TEST_CASE("parse_map") {
    auto ok = std::get<host_mapping>(parse_map("API.Example.com=127.0.0.2:8443"));
    CHECK(ok.host == "api.example.com");
    CHECK(ok.address == "127.0.0.2");
    CHECK(ok.port == 8443);
    ok = std::get<host_mapping>(parse_map("a.test=backend.internal"));
    CHECK(ok.address == "backend.internal");
    CHECK_FALSE(ok.port.has_value());
    ok = std::get<host_mapping>(parse_map("a.test=[::1]:444"));
    CHECK(ok.address == "::1");
    CHECK(ok.port == 444);

    const std::vector<std::pair<std::string, std::string>> bad{
        {"a.test", "expected HOST=ADDR[:PORT] in 'a.test'"},
        {"=1.2.3.4", "bad host name '' in '=1.2.3.4'"},
        {"a/b=1.2.3.4", "bad host name 'a/b' in 'a/b=1.2.3.4'"},
        {"a.test=", "missing ADDR in 'a.test='"},
        {"a.test=1.2.3.4:0", "bad port '0' (expected 1-65535) in 'a.test=1.2.3.4:0'"},
        {"a.test=::1", "IPv6 addresses need brackets, as in [::1]:8080 in 'a.test=::1'"},
        {"a.test=bad host", "bad host 'bad host' in 'a.test=bad host'"},
    };
    for (const auto& entry : bad) {
        const auto& text = entry.first;
        const auto& message = entry.second;
        CAPTURE(text);
        CHECK(error(parse_map(text)) == message);
    }
}

TEST_CASE("parse_cidr and cidr_contains") {
    const auto v4 = std::get<cidr>(parse_cidr("10.1.0.0/16"));
    CHECK(v4.bytes.size() == 4);
    CHECK(v4.prefix_bits == 16);
    const auto v6 = std::get<cidr>(parse_cidr("fd00::/8"));
    CHECK(v6.bytes.size() == 16);
    const auto host = std::get<cidr>(parse_cidr("192.0.2.7"));
    CHECK(host.prefix_bits == 32);
    const auto any = std::get<cidr>(parse_cidr("0.0.0.0/0"));

    auto v4_addr = [](const char* text) {
        std::array<std::uint8_t, 4> a{};
        REQUIRE(inet_pton(AF_INET, text, a.data()) == 1);
        return a;
    };
    auto v6_addr = [](const char* text) {
        std::array<std::uint8_t, 16> a{};
        REQUIRE(inet_pton(AF_INET6, text, a.data()) == 1);
        return a;
    };
    CHECK(cidr_contains(v4, v4_addr("10.1.255.3").data(), 4));
    CHECK_FALSE(cidr_contains(v4, v4_addr("10.2.0.1").data(), 4));
    CHECK(cidr_contains(v4, v6_addr("::ffff:10.1.2.3").data(), 16));
    CHECK_FALSE(cidr_contains(v4, v6_addr("::10.1.2.3").data(), 16));
    CHECK(cidr_contains(v6, v6_addr("fdab::1").data(), 16));
    CHECK_FALSE(cidr_contains(v6, v6_addr("fe80::1").data(), 16));
    CHECK_FALSE(cidr_contains(v6, v4_addr("10.1.2.3").data(), 4));
    CHECK(cidr_contains(host, v4_addr("192.0.2.7").data(), 4));
    CHECK_FALSE(cidr_contains(host, v4_addr("192.0.2.6").data(), 4));
    CHECK(cidr_contains(any, v4_addr("203.0.113.9").data(), 4));

    const std::vector<std::pair<std::string, std::string>> bad{
        {"10.0.0.1/8", "host bits set after /8 in '10.0.0.1/8'"},
        {"10.0.0.0/33", "bad prefix length '33' (expected 0-32) in '10.0.0.0/33'"},
        {"::/129", "bad prefix length '129' (expected 0-128) in '::/129'"},
        {"10.0.0.0/", "bad prefix length '' (expected 0-32) in '10.0.0.0/'"},
        {"localhost/8", "bad address 'localhost' in 'localhost/8'"},
        {"[::1]/128", "bad address '[::1]' in '[::1]/128'"},
    };
    for (const auto& entry : bad) {
        const auto& text = entry.first;
        const auto& message = entry.second;
        CAPTURE(text);
        CHECK(error(parse_cidr(text)) == message);
    }
}

TEST_CASE("durations and sizes") {
    using std::chrono::milliseconds;
    CHECK(std::get<milliseconds>(parse_duration("10s")) == milliseconds(10'000));
    CHECK(std::get<milliseconds>(parse_duration("500ms")) == milliseconds(500));
    CHECK(std::get<milliseconds>(parse_duration("2m")) == milliseconds(120'000));
    CHECK(std::get<milliseconds>(parse_duration("1h")) == milliseconds(3'600'000));
    CHECK(std::get<milliseconds>(parse_duration("0s")) == milliseconds(0));
    for (const char* bad :
         {"", "10", "s", "1.5s", "-1s", "10 s", "10sec", "169h", "99999999999999999999ms"}) {
        CAPTURE(bad);
        CHECK(error(parse_duration(bad)) ==
              "bad duration '" + std::string(bad) +
                  "' (expected a whole number and a unit: ms, s, m or h, as in 10s; at most 168h)");
    }
    CHECK(std::get<std::size_t>(parse_size("65536")) == 65536);
    CHECK(std::get<std::size_t>(parse_size("64KiB")) == 65536);
    CHECK(std::get<std::size_t>(parse_size("1MiB")) == 1u << 20);
    CHECK(std::get<std::size_t>(parse_size("2GiB")) == 2ull << 30);
    CHECK(std::get<std::size_t>(parse_size("3kB")) == 3000);
    CHECK(std::get<std::size_t>(parse_size("5MB")) == 5'000'000);
    CHECK(std::get<std::size_t>(parse_size("7B")) == 7);
    for (const char* bad : {"", "KiB", "1kib", "1.5MiB", "-1", "1 MiB", "1TiB"}) {
        CAPTURE(bad);
        CHECK(error(parse_size(bad)).starts_with("bad size '" + std::string(bad) + "'"));
    }
    CHECK(format_duration(milliseconds(60'000)) == "1m");
    CHECK(format_duration(milliseconds(1500)) == "1500ms");
    CHECK(format_duration(milliseconds(0)) == "0ms");
    CHECK(format_size(1u << 20) == "1MiB");
    CHECK(format_size(1000) == "1000");
}

TEST_CASE("glob_match") {
    CHECK(glob_match("*.bank.test", "www.bank.test"));
    CHECK(glob_match("*.bank.test", "a.b.bank.test"));
    CHECK_FALSE(glob_match("*.bank.test", "bank.test"));
    CHECK(glob_match("api-?.test", "API-1.test"));
    CHECK_FALSE(glob_match("api-?.test", "api-12.test"));
    CHECK(glob_match("*", "anything"));
    CHECK(glob_match("exact.test", "exact.test"));
    CHECK_FALSE(glob_match("exact.test", "exact.test.evil"));
    CHECK_FALSE(glob_match("", "a"));
    // Many stars against a long near-miss must stay fast (linear backtracking).
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*b", std::string(200, 'a')));
}
