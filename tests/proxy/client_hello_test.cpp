#include "proxy/client_hello.hpp"

#include <doctest/doctest.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

using namespace hoplens::proxy;
using namespace std::string_view_literals;

namespace {

using bytes = std::vector<std::byte>;

struct hello_options {
    const char* server_name = nullptr;
    std::vector<std::string> alpn;
    int max_version = 0;            // 0: OpenSSL's default (TLS 1.3)
    unsigned max_send_fragment = 0; // 0: default (one record)
};

// A real ClientHello: OpenSSL's client writes its first flight into a memory BIO.
bytes openssl_client_hello(const char* server_name, std::vector<std::string> alpn = {},
                           int max_version = 0, unsigned max_send_fragment = 0) {
    const hello_options o{server_name, std::move(alpn), max_version, max_send_fragment};
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    REQUIRE(ctx);
    if (o.max_version != 0) {
        REQUIRE(SSL_CTX_set_max_proto_version(ctx.get(), o.max_version) == 1);
    }
    if (o.max_send_fragment != 0) {
        REQUIRE(SSL_CTX_set_max_send_fragment(ctx.get(), o.max_send_fragment) == 1);
    }
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    REQUIRE(ssl);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), in, out); // ssl owns both
    if (o.server_name) {
        REQUIRE(SSL_set_tlsext_host_name(ssl.get(), o.server_name) == 1);
    }
    if (!o.alpn.empty()) {
        std::vector<unsigned char> wire;
        for (const auto& p : o.alpn) {
            wire.push_back(static_cast<unsigned char>(p.size()));
            wire.insert(wire.end(), p.begin(), p.end());
        }
        REQUIRE(SSL_set_alpn_protos(ssl.get(), wire.data(), static_cast<unsigned>(wire.size())) ==
                0);
    }
    REQUIRE(SSL_connect(ssl.get()) == -1);
    REQUIRE(SSL_get_error(ssl.get(), -1) == SSL_ERROR_WANT_READ);
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    REQUIRE(n > 0);
    const auto* first = reinterpret_cast<const std::byte*>(data);
    return bytes(first, first + n);
}

bytes from_text(std::string_view text) {
    bytes out;
    for (char c : text) {
        out.push_back(static_cast<std::byte>(c));
    }
    return out;
}

std::uint8_t at(const bytes& b, std::size_t i) {
    return static_cast<std::uint8_t>(b[i]);
}

// The handshake bytes carried by a sequence of records (the records' payloads concatenated).
bytes handshake_of(const bytes& records) {
    bytes out;
    for (std::size_t pos = 0; pos + 5 <= records.size();) {
        const std::size_t length = at(records, pos + 3) << 8 | at(records, pos + 4);
        out.insert(out.end(), records.begin() + static_cast<long>(pos) + 5,
                   records.begin() + static_cast<long>(pos + 5 + length));
        pos += 5 + length;
    }
    return out;
}

// Re-splits handshake bytes into records of `fragment` bytes each, as any client may.
bytes as_records(const bytes& handshake, std::size_t fragment, std::uint16_t version = 0x0301) {
    bytes out;
    for (std::size_t pos = 0; pos < handshake.size(); pos += fragment) {
        const std::size_t n = std::min(fragment, handshake.size() - pos);
        for (unsigned v : {22u, unsigned(version >> 8), unsigned(version & 0xff), unsigned(n >> 8),
                           unsigned(n & 0xff)}) {
            out.push_back(static_cast<std::byte>(v));
        }
        out.insert(out.end(), handshake.begin() + static_cast<long>(pos),
                   handshake.begin() + static_cast<long>(pos + n));
    }
    return out;
}

void put16(bytes& b, std::size_t v) {
    b.push_back(static_cast<std::byte>(v >> 8));
    b.push_back(static_cast<std::byte>(v & 0xff));
}

// A minimal hand-made ClientHello handshake message around the given extensions block (nullopt:
// no extensions at all, as TLS 1.0 clients may send).
bytes hand_hello(const std::optional<bytes>& extensions) {
    bytes body;
    put16(body, 0x0303);
    body.insert(body.end(), 32, std::byte{0x11}); // random
    body.push_back(std::byte{0});                 // session id
    put16(body, 2);
    put16(body, 0x1301); // one cipher suite
    body.push_back(std::byte{1});
    body.push_back(std::byte{0}); // null compression
    if (extensions) {
        put16(body, extensions->size());
        body.insert(body.end(), extensions->begin(), extensions->end());
    }
    bytes hs{std::byte{1}, static_cast<std::byte>(body.size() >> 16),
             static_cast<std::byte>(body.size() >> 8 & 0xff),
             static_cast<std::byte>(body.size() & 0xff)};
    hs.insert(hs.end(), body.begin(), body.end());
    return hs;
}

bytes extension(std::uint16_t type, const bytes& data) {
    bytes out;
    put16(out, type);
    put16(out, data.size());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

bytes sni_extension(std::string_view name) {
    bytes entry{std::byte{0}};
    put16(entry, name.size());
    const auto n = from_text(name);
    entry.insert(entry.end(), n.begin(), n.end());
    bytes list;
    put16(list, entry.size());
    list.insert(list.end(), entry.begin(), entry.end());
    return extension(0, list);
}

bytes concat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

client_hello_info info_of(const bytes& b) {
    const auto r = peek_client_hello(b);
    if (const auto* n = std::get_if<not_tls>(&r)) {
        FAIL("not_tls: " << to_string(n->reason));
    }
    REQUIRE(std::holds_alternative<client_hello_info>(r));
    return std::get<client_hello_info>(r);
}

std::string verdict(const bytes& b) {
    const auto r = peek_client_hello(b);
    if (std::holds_alternative<need_more>(r)) {
        return "need_more";
    }
    if (const auto* n = std::get_if<not_tls>(&r)) {
        return std::string(to_string(n->reason));
    }
    const auto& info = std::get<client_hello_info>(r);
    if (info.server_name_invalid) {
        return info.server_name ? "both" : "hello without usable SNI";
    }
    return "hello";
}

// Every strict prefix needs more; the whole (and the whole plus what follows) is the hello.
void check_every_split(const bytes& hello) {
    for (std::size_t n = 0; n < hello.size(); ++n) {
        const bytes prefix(hello.begin(), hello.begin() + static_cast<long>(n));
        const auto v = verdict(prefix);
        if (v != "need_more") {
            FAIL("prefix of " << n << " of " << hello.size() << " bytes: " << v);
        }
    }
    CHECK(verdict(hello) == "hello");
    auto followed = hello;
    followed.insert(followed.end(),
                    {std::byte{0x14}, std::byte{3}, std::byte{3}, std::byte{0}, std::byte{1}});
    CHECK(verdict(followed) == "hello");
}

} // namespace

TEST_CASE("OpenSSL's TLS 1.3 ClientHello: SNI, ALPN, versions") {
    const auto hello = openssl_client_hello("API.Example.Test", {"h2", "http/1.1"});
    const auto info = info_of(hello);
    CHECK(info.server_name == "api.example.test");
    CHECK(info.alpn == std::vector<std::string>{"h2", "http/1.1"});
    CHECK(info.record_version == 0x0301);
    CHECK(info.client_version == 0x0303);
    check_every_split(hello);
}

TEST_CASE("a TLS 1.2-only client and one without SNI or ALPN") {
    const auto tls12 = openssl_client_hello("origin.test", {"http/1.1"}, TLS1_2_VERSION);
    CHECK(info_of(tls12).server_name == "origin.test");
    const auto bare = openssl_client_hello(nullptr);
    const auto info = info_of(bare);
    CHECK_FALSE(info.server_name.has_value());
    CHECK(info.alpn.empty());
    check_every_split(bare);
    // An IP literal is not a valid SNI (RFC 6066 §3) but some clients send one; it is a
    // well-formed name by our byte rules.
    CHECK(info_of(openssl_client_hello("127.0.0.1")).server_name == "127.0.0.1");
}

TEST_CASE("a ClientHello spread over several records") {
    // Many ALPN names make the hello larger than OpenSSL's smallest fragment.
    std::vector<std::string> alpn;
    for (int i = 0; i < 120; ++i) {
        alpn.push_back("proto-" + std::to_string(i) + "-padding-padding");
    }
    const auto fragmented = openssl_client_hello("frag.test", alpn, 0, 512);
    // The second record starts right after the first 512-byte payload.
    REQUIRE(fragmented.size() > 3 * 517);
    REQUIRE(at(fragmented, 517) == 22);
    const auto info = info_of(fragmented);
    CHECK(info.server_name == "frag.test");
    CHECK(info.alpn == alpn);
    check_every_split(fragmented);

    // Re-split by hand into tiny records, as a hostile or odd client may.
    const auto hs = handshake_of(openssl_client_hello("tiny.test", {"h2"}));
    for (std::size_t fragment : {1u, 3u, 7u, 100u}) {
        CAPTURE(fragment);
        const auto records = as_records(hs, fragment);
        CHECK(info_of(records).server_name == "tiny.test");
        check_every_split(records);
    }
}

TEST_CASE("not TLS: garbage, plain HTTP, SSLv2, other records") {
    CHECK(verdict({}) == "need_more");
    CHECK(verdict(from_text("GET / HTTP/1.1\r\nHost: a\r\n\r\n"sv)) == "not a TLS handshake");
    CHECK(verdict(from_text("G"sv)) == "not a TLS handshake");
    CHECK(verdict(from_text("\x15\x03\x03\x00\x02\x02\x28"sv)) ==
          "not a TLS handshake"); // an alert
    // SSLv2-style CLIENT-HELLO (length 0x8031, type 1, version 3.1).
    CHECK(verdict(from_text("\x80\x31\x01\x03\x01"sv)) == "SSLv2-style hello");
    CHECK(verdict(from_text("\x80\x31"sv)) == "need_more");
    CHECK(verdict(from_text("\x80\x31\x02"sv)) == "not a TLS handshake");
    CHECK(verdict(from_text("\x16\x02"sv)) == "bad TLS record header");
    CHECK(verdict(from_text("\x16\x03\x01\x00\x00"sv)) == "bad TLS record header"); // empty record
    CHECK(verdict(from_text("\x16\x03\x01\x40\x01"sv)) == "bad TLS record header"); // > 2^14
    CHECK(verdict(from_text("\x16\x03\x01\x00\x04\x02\x00\x00\x00"sv)) ==
          "malformed ClientHello"); // ServerHello
    CHECK(verdict(from_text("\x16\x03\x01\x00\x01\x02"sv)) == "malformed ClientHello");

    // A record of another type before the hello is complete.
    const auto hs = handshake_of(openssl_client_hello("a.test"));
    auto records = as_records(bytes(hs.begin(), hs.begin() + 10), 10);
    records.insert(records.end(),
                   {std::byte{21}, std::byte{3}, std::byte{3}, std::byte{0}, std::byte{2}});
    CHECK(verdict(records) == "malformed ClientHello");
}

TEST_CASE("malformed lengths are refused, never read past") {
    const auto ext =
        concat({sni_extension("ok.test"), extension(16, {std::byte{0}, std::byte{3}, std::byte{2},
                                                         std::byte{'h'}, std::byte{'2'}})});
    const auto good = hand_hello(ext);
    CHECK(info_of(as_records(good, good.size())).server_name == "ok.test");
    CHECK(info_of(as_records(good, good.size())).alpn == std::vector<std::string>{"h2"});
    CHECK_FALSE(info_of(as_records(hand_hello(std::nullopt), 200)).server_name);

    // Every length field of that hello (the low byte of each), one too long or one too short:
    // the fields no longer add up, and the hello is refused or waits for bytes (never accepted).
    // Layout: handshake length 3, session id 38, ciphers 40, compression 43, extensions 46,
    // SNI extension 50, name list 52, name 55, ALPN extension 66, list 68, name 69.
    for (std::size_t i : {3u, 38u, 40u, 43u, 46u, 50u, 52u, 55u, 66u, 68u, 69u}) {
        for (int delta : {-1, 1}) {
            CAPTURE(i);
            CAPTURE(delta);
            auto bad = good;
            bad[i] = static_cast<std::byte>(at(good, i) + delta);
            const auto v = verdict(as_records(bad, bad.size()));
            CHECK((v == "malformed ClientHello" || v == "need_more"));
        }
    }
    const std::vector<std::pair<bytes, std::string>> rows{
        {hand_hello(concat({sni_extension("a.test"), sni_extension("b.test")})),
         "malformed ClientHello"},
        {hand_hello(extension(0, {})), "malformed ClientHello"},
        {hand_hello(extension(0, {std::byte{0}, std::byte{0}})), "malformed ClientHello"},
        {hand_hello(extension(16, {std::byte{0}, std::byte{1}, std::byte{0}})),
         "malformed ClientHello"},
        {hand_hello(sni_extension("bad/host.test")), "hello without usable SNI"},
        {hand_hello(sni_extension("a..b")), "hello without usable SNI"},
        {hand_hello(sni_extension("trailing.dot.")), "hello without usable SNI"},
        {hand_hello(sni_extension(std::string(64, 'a') + ".test")), "hello without usable SNI"},
        {hand_hello(sni_extension("nul\0byte"sv)), "hello without usable SNI"},
        {hand_hello(sni_extension("sp ace")), "hello without usable SNI"},
        {hand_hello(sni_extension(std::string(63, 'a') + ".test")), "hello"},
    };
    // Named copies, not structured bindings: clang 14 cannot capture those in CAPTURE.
    for (const auto& entry : rows) {
        const auto& hs = entry.first;
        const auto& expected = entry.second;
        CHECK(verdict(as_records(hs, hs.size())) == expected);
    }
    // Trailing bytes inside the handshake message, after the extensions.
    auto trailing = hand_hello(sni_extension("a.test"));
    trailing.push_back(std::byte{0});
    trailing[3] = static_cast<std::byte>(at(trailing, 3) + 1);
    CHECK(verdict(as_records(trailing, trailing.size())) == "malformed ClientHello");
}

TEST_CASE("size bounds: 16 KiB hellos pass, larger ones are too large") {
    auto padded = [](std::size_t padding) {
        return hand_hello(
            concat({sni_extension("big.test"), extension(21, bytes(padding, std::byte{0}))}));
    };
    const auto near_limit = padded(max_client_hello_bytes - 100);
    REQUIRE(near_limit.size() <= max_client_hello_bytes);
    CHECK(info_of(as_records(near_limit, 512)).server_name == "big.test");
    CHECK(info_of(as_records(near_limit, 16384)).server_name == "big.test");

    const auto over = padded(max_client_hello_bytes);
    CHECK(verdict(as_records(over, 16384)) == "ClientHello too large");
    // Tiny records of a legal hello would need more wire bytes than the bound.
    CHECK(verdict(as_records(near_limit, 1)) == "ClientHello too large");
    // Whatever the input, a full peek buffer gets a verdict.
    for (std::size_t fragment : {1u, 2u, 5u, 512u}) {
        auto wire = as_records(over, fragment);
        wire.resize(std::min(wire.size(), max_client_hello_wire_bytes));
        CHECK(verdict(wire) != "need_more");
    }
}

TEST_CASE("hellos captured from real clients (the fuzz seeds)") {
    // Recorded with tests/fuzz's capture: openssl s_client, curl and Python's ssl module
    // connecting to a bare listener on 127.0.0.1.
    const auto dir =
        std::filesystem::path(__FILE__).parent_path() / "../fuzz/corpus/client_hello_fuzz";
    auto load = [&](const char* name) {
        std::ifstream in(dir / name, std::ios::binary);
        REQUIRE_MESSAGE(in, (dir / name).string());
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        return from_text(text);
    };
    auto info = info_of(load("openssl_s_client_sni_alpn"));
    CHECK(info.server_name == "api.example.test");
    CHECK(info.alpn == std::vector<std::string>{"h2", "http/1.1"});
    CHECK(info_of(load("openssl_s_client_tls12")).server_name == "origin.test");
    CHECK_FALSE(info_of(load("openssl_s_client_no_sni")).server_name);
    info = info_of(load("curl_sni"));
    CHECK(info.server_name == "origin.test");
    CHECK_FALSE(info.alpn.empty());
    info = info_of(load("python_ssl"));
    CHECK(info.server_name == "py.test");
    CHECK(info.alpn == std::vector<std::string>{"http/1.1"});
    CHECK(verdict(load("plain_http")) == "not a TLS handshake");
    CHECK(verdict(load("sslv2")) == "SSLv2-style hello");
    check_every_split(load("curl_sni"));
}
