#include "capture/har_entry.hpp"

#include "capture_test_util.hpp"
#include "websocket_test_util.hpp"

#include <doctest/doctest.h>

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace hoplens::capture {
namespace {

using test::as_bytes;
using test::at_ms;
using test::conn;
namespace json = boost::json;

constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

// zlib's compress with a gzip (31) or zlib (15) or raw (-15) wrapper.
std::string squeeze(std::string_view s, int window_bits) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(s.size() + 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    z.avail_in = uInt(s.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

struct session {
    recorder rec;
    test::har_disk disk;
    explicit session(std::size_t body_cap_bytes = 64) : rec({"9.9.9", body_cap_bytes}, at_ms(0)) {
        disk.apply(rec);
    }
    void open(const connection_info& i, connect_timings t = {}) {
        rec.opened(i);
        rec.upstream_attached(i.id, i.upstream, t);
    }
    void send(conn_id id, direction d, std::int64_t ms, std::string_view bytes) {
        rec.chunk(id, d, at_ms(ms), as_bytes(bytes));
        disk.apply(rec);
    }
    void close(conn_id id, std::int64_t ms, bool aborted = false) {
        rec.closed(id, at_ms(ms), aborted);
        disk.apply(rec);
    }
};

double sum_timings(const json::object& t) {
    double sum = 0;
    for (const char* k : {"blocked", "dns", "connect", "send", "wait", "receive"}) {
        sum += std::max(0.0, t.at(k).to_number<double>());
    }
    return sum;
}

TEST_CASE("HAR log head: creator, version, pages; valid JSON with no entries") {
    session s;
    const auto log = json::parse(s.disk.file).at("log").as_object();
    CHECK(log.at("version") == "1.2");
    CHECK(log.at("creator").at("name") == "hoplens");
    CHECK(log.at("creator").at("version") == "9.9.9");
    CHECK(log.at("pages").as_array().size() == 1);
    CHECK(log.at("pages").at(0).at("startedDateTime") == "2024-05-01T12:00:00.000+00:00");
    CHECK(log.at("entries").as_array().empty());
}

TEST_CASE("an entry has the timings, sizes, URL and fields devtools need") {
    session s;
    s.open(conn(3, "127.0.0.1", "::ffff:127.0.0.2"), {500, 1500, 2000, 1200});
    s.send(3, c2s, 100,
           "GET /search?q=a+b&x=%2F HTTP/1.1\r\nHost: example.test\r\n"
           "Cookie: sid=42; theme=dark\r\n\r\n");
    s.send(3, s2c, 130,
           "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Set-Cookie: a=1; Path=/; HttpOnly; Secure; Max-Age=60\r\n"
           "Set-Cookie: b=2; Domain=example.test; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\n"
           "Content-Length: 4\r\n\r\n<p>");
    s.send(3, s2c, 145, ">");
    s.close(3, 200);
    const auto entries = s.disk.entries();
    REQUIRE(entries.size() == 1);
    const auto& e = entries[0].as_object();
    CHECK(e.at("pageref") == "page_1");
    // 100 ms minus blocked 0.5 + dns 1.5 + connect 2 + ssl 1.2 (inside connect), floored
    CHECK(e.at("startedDateTime") == "2024-05-01T12:00:00.094+00:00");
    const auto& t = e.at("timings").as_object();
    CHECK(t.at("blocked").as_double() == doctest::Approx(0.5));
    CHECK(t.at("dns").as_double() == doctest::Approx(1.5));
    CHECK(t.at("connect").as_double() == doctest::Approx(3.2));
    CHECK(t.at("ssl").as_double() == doctest::Approx(1.2));
    CHECK(t.at("send").as_double() == 0);
    CHECK(t.at("wait").as_double() == doctest::Approx(30));
    CHECK(t.at("receive").as_double() == doctest::Approx(15));
    CHECK(e.at("time").as_double() == doctest::Approx(sum_timings(t)));
    CHECK(e.at("time").as_double() == doctest::Approx(50.2));
    CHECK(e.at("serverIPAddress") == "127.0.0.2");
    CHECK(e.at("connection") == "3");
    CHECK(e.at("_resourceType") == "document");
    CHECK(!e.contains("comment"));
    const auto& req = e.at("request").as_object();
    CHECK(req.at("url") == "https://example.test/search?q=a+b&x=%2F");
    CHECK(req.at("httpVersion") == "HTTP/1.1");
    CHECK(req.at("queryString") == json::parse(R"([{"name":"q","value":"a b"},
                                                  {"name":"x","value":"/"}])"));
    CHECK(req.at("cookies") == json::parse(R"([{"name":"sid","value":"42"},
                                              {"name":"theme","value":"dark"}])"));
    CHECK(req.at("headersSize").as_int64() > 60);
    CHECK(req.at("bodySize") == 0);
    const auto& resp = e.at("response").as_object();
    CHECK(resp.at("status") == 200);
    CHECK(resp.at("statusText") == "OK");
    CHECK(resp.at("content").at("text") == "<p>>");
    CHECK(resp.at("content").at("size") == 4);
    CHECK(resp.at("content").at("mimeType") == "text/html; charset=utf-8");
    CHECK(resp.at("bodySize") == 4);
    const auto& cookies = resp.at("cookies").as_array();
    REQUIRE(cookies.size() == 2);
    CHECK(cookies[0] == json::parse(R"({"name":"a","value":"1","path":"/","httpOnly":true,
        "secure":true,"expires":"2024-05-01T12:01:00.130+00:00"})"));
    CHECK(cookies[1] == json::parse(R"({"name":"b","value":"2","domain":"example.test",
        "expires":"2015-10-21T07:28:00.000+00:00"})"));
}

TEST_CASE("cookie dates past 2262 (\"never expires\") are written as they are, or clamped") {
    session s;
    s.open(conn(5), {0, 0, 0, 0});
    s.send(5, c2s, 100, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    s.send(5, s2c, 130,
           "HTTP/1.1 200 OK\r\n"
           "Set-Cookie: a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT\r\n"
           "Set-Cookie: b=2; Expires=Mon, 01 Jan 2300 00:00:00 GMT\r\n"
           "Set-Cookie: c=3; Max-Age=99999999999\r\n"
           "Set-Cookie: d=4; Max-Age=9223372036854775807\r\n"
           "Content-Length: 0\r\n\r\n");
    s.close(5, 200);
    const auto entries = s.disk.entries();
    REQUIRE(entries.size() == 1);
    const auto& cookies = entries[0].at("response").at("cookies").as_array();
    REQUIRE(cookies.size() == 4);
    CHECK(cookies[0].at("expires") == "9999-12-31T23:59:59.000+00:00");
    CHECK(cookies[1].at("expires") == "2300-01-01T00:00:00.000+00:00");
    CHECK(cookies[2].at("expires") == "5193-03-16T21:46:39.130+00:00");
    CHECK(cookies[3].at("expires") == "9999-12-31T23:59:59.999+00:00");
}

TEST_CASE("a reused connection has -1 for the phases that did not happen") {
    session s;
    s.open(conn(4), {0, 0, 100, 50});
    for (int i = 0; i < 2; ++i) {
        s.send(4, c2s, 10 + i * 10, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        s.send(4, s2c, 15 + i * 10, "HTTP/1.1 204 No Content\r\n\r\n");
    }
    const auto entries = s.disk.entries();
    REQUIRE(entries.size() == 2);
    const auto& t = entries[1].at("timings").as_object();
    for (const char* k : {"blocked", "dns", "connect", "ssl"}) {
        CHECK(t.at(k).as_double() == -1);
    }
    CHECK(entries[1].at("time").as_double() == doctest::Approx(5));
    CHECK(entries[0].at("timings").at("connect").as_double() == doctest::Approx(0.15));
}

TEST_CASE("gzip, deflate (zlib and raw) bodies are decoded with compression set") {
    const std::string text(3000, 'z');
    for (const auto& [coding, bits] : {std::pair{"gzip", 31}, {"deflate", 15}, {"deflate", -15}}) {
        session s;
        s.open(conn(5));
        const std::string body = squeeze(text, bits);
        s.send(5, c2s, 1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
        s.send(5, s2c, 2,
               std::string("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: ") +
                   coding + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                   body);
        const auto e = s.disk.entries().at(0);
        const auto& content = e.at("response").at("content").as_object();
        CHECK(content.at("size") == 3000);
        CHECK(content.at("compression").as_int64() == 3000 - std::int64_t(body.size()));
        CHECK(content.at("text").as_string().size() == 64); // capped
        CHECK(content.at("text").as_string() == std::string(64, 'z'));
        CHECK(e.at("response").at("bodySize") == body.size());
        CHECK(e.at("comment") == "response body truncated to 64 of 3000 bytes");
    }
}

TEST_CASE("binary bodies are base64; urlencoded forms have params") {
    session s;
    s.open(conn(6));
    s.send(6, c2s, 1,
           "POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: 13\r\n\r\nname=J%C3%B6+");
    s.send(6, s2c, 2,
           std::string("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n") +
               std::string("\x89PN\xff", 4));
    const auto e = s.disk.entries().at(0);
    const auto& post = e.at("request").at("postData").as_object();
    CHECK(post.at("mimeType") == "application/x-www-form-urlencoded");
    CHECK(post.at("text") == "name=J%C3%B6+");
    CHECK(post.at("params") == json::parse(R"([{"name":"name","value":"Jö "}])"));
    CHECK(e.at("request").at("bodySize") == 13);
    const auto& content = e.at("response").at("content").as_object();
    CHECK(content.at("encoding") == "base64");
    CHECK(content.at("text") == "iVBO/w==");
    CHECK(e.at("_resourceType") == "image");
}

TEST_CASE("a cut connection gives an incomplete entry with numbers everywhere") {
    session s;
    s.open(conn(7));
    s.send(7, c2s, 1, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    s.close(7, 40, true);
    const auto e = s.disk.entries().at(0);
    CHECK(e.at("comment") == "incomplete: connection aborted before a response");
    CHECK(e.at("_incomplete") == true);
    const auto& resp = e.at("response").as_object();
    CHECK(resp.at("status") == 0);
    CHECK(resp.at("content").at("size") == 0);
    CHECK(resp.at("headersSize") == -1);
    CHECK(resp.at("bodySize") == -1);
    CHECK(e.at("timings").at("wait").as_double() == doctest::Approx(39));
    CHECK(e.at("time").as_double() == doctest::Approx(39));
}

TEST_CASE("lost events mark the exchange in flight incomplete") {
    session s;
    s.open(conn(8));
    s.send(8, c2s, 1, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    s.rec.lost(8);
    s.disk.apply(s.rec);
    const auto e = s.disk.entries().at(0);
    CHECK(e.at("comment").as_string().find("capture queue full") != json::string::npos);
}

TEST_CASE("a WebSocket's entry is written at close with Chrome's _webSocketMessages") {
    session s(2 * sizeof(websocket_message) + 10); // two records and 10 bytes of message data
    s.open(conn(10));
    s.send(10, c2s, 1,
           "GET /ws HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\n"
           "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n");
    s.send(10, s2c, 2,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    s.send(10, c2s, 3, test::ws_send("h\xc3\xa9llo"));
    s.send(10, s2c, 4, test::ws_receive(std::string("\x00\xff\x10", 3), 2));
    s.send(10, s2c, 5, test::ws_receive("p", 9));
    s.send(10, s2c, 6, test::ws_receive(std::string(100, 'x')));
    CHECK(s.disk.entries().empty());
    s.close(10, 7);
    const auto entries = s.disk.entries();
    REQUIRE(entries.size() == 1);
    const auto& e = entries.at(0).as_object();
    CHECK(e.at("_resourceType") == "websocket");
    CHECK(e.at("response").at("status") == 101);
    CHECK(!e.contains("_incomplete"));
    const auto& msgs = e.at("_webSocketMessages").as_array();
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].at("type") == "send");
    CHECK(msgs[0].at("opcode") == 1);
    CHECK(msgs[0].at("data") == "h\xc3\xa9llo");
    CHECK(msgs[0].at("time").to_number<double>() == doctest::Approx(1714564800.003).epsilon(1e-12));
    CHECK(msgs[1].at("type") == "receive");
    CHECK(msgs[1].at("opcode") == 2);
    CHECK(msgs[1].at("data") == "AP8Q");
    CHECK(msgs[1].at("time").to_number<double>() == doctest::Approx(1714564800.004).epsilon(1e-12));
    CHECK(e.at("comment") ==
          "WebSocket messages past the body size limit, not kept: 1 (100 payload bytes)");
}

TEST_CASE("an aborted WebSocket's entry is incomplete") {
    session s;
    s.open(conn(11));
    s.send(11, c2s, 1,
           "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    s.send(11, s2c, 2,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
               test::ws_receive("hi") + std::string("\x83\x00", 2));
    s.close(11, 3, true);
    const auto e = s.disk.entries().at(0);
    CHECK(e.at("_incomplete") == true);
    CHECK(e.at("_webSocketMessages").as_array().size() == 1);
    const auto comment = std::string(e.at("comment").as_string());
    CHECK(comment.starts_with("incomplete: connection aborted; server WebSocket frames"));
    CHECK(comment.find("reserved opcode 3") != std::string::npos);
}

TEST_CASE("a produced HAR passes har-validator") {
    session s;
    s.open(conn(9, "::1", "::1", 8443), {1, 2, 3, 4});
    s.send(9, c2s, 1,
           "POST /v?a=1 HTTP/1.1\r\nHost: [::1]:8443\r\nCookie: c=d\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\n"
           "k=v");
    s.send(9, s2c, 2,
           "HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: s=1; Max-Age=5\r\n"
           "Content-Length: 0\r\n\r\n");
    s.send(9, c2s, 3, "GET /never HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    s.close(9, 4);
    REQUIRE(s.disk.entries().size() == 2);
    const auto path = std::filesystem::temp_directory_path() /
                      ("hoplens-har-" + std::to_string(::getpid()) + ".har");
    std::ofstream(path) << s.disk.file;
    const std::string cmd =
        std::string("node ") + HOPLENS_TEST_JS_DIR + "/validate_har.js " + path.string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out(4096, '\0');
    out.resize(std::fread(out.data(), 1, out.size(), p));
    const int status = ::pclose(p);
    std::filesystem::remove(path);
    CHECK_MESSAGE(status == 0, out);
    CHECK(out.find("valid") != std::string::npos);
}

} // namespace
} // namespace hoplens::capture
