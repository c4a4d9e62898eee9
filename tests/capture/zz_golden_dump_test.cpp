// TEMPORARY (capperf): dumps HAR and pcapng outputs of varied inputs for a before/after diff.
#include "capture/capture.hpp"
#include "capture_test_util.hpp"

#include <fstream>
#include <zlib.h>

using namespace hoplens::capture;
using namespace hoplens::capture::test;

namespace {
constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

std::string gz(std::string_view s) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    std::string out(s.size() + 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    z.avail_in = uInt(s.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string take_pcap(recorder& r) {
    return r.take_pcapng_bytes();
}
} // namespace

TEST_CASE("golden dump") {
    for (int cap : {64, 1024 * 1024}) {
        recorder r({"9.9.9", std::size_t(cap)}, at_ms(0));
        har_disk disk;
        std::string pcap;
        auto step = [&] { disk.apply(r); pcap += take_pcap(r); };
        step();
        std::vector<std::string> keep;
        auto send = [&](conn_id id, direction d, std::int64_t ms, std::string s) {
            keep.push_back(std::move(s));
            r.chunk(id, d, at_ms(ms), as_bytes(keep.back()));
            if (ms % 3 == 0) step();
        };
        r.opened(conn(1));
        r.upstream_attached(1, {"127.0.0.2", 443}, {500, 1500, 2000, 1200});
        send(1, c2s, 10, "POST /form?a=1&b=%20x+y&c&=z#frag HTTP/1.1\r\nHost: h.test\r\nCookie: a=1; b = 2 ;c;d=\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 23\r\n\r\nk=v+w&x=%41%zz&y&=q&ee=");
        send(1, s2c, 20, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nSet-Cookie: s=1; Path=/a; Path=/b; HttpOnly; Secure\r\n"
                         "Set-Cookie: t=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60; Domain=x.test\r\n"
                         "Set-Cookie: u=3; Max-Age=10; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\nSet-Cookie: bad\r\n"
                         "Set-Cookie: v=\"q\\\\z\"; expires=Thu, 01-Jan-70 00:00:01 GMT\r\n"
                         "X-Ctl: a\x01\x1f\x7f\"\\/\t\xc3\xa9\xe2\x82\xac\r\nLocation: /next\r\nContent-Length: 12\r\n\r\nh\xc3\xa9llo \"w\"\n\t\x01");
        std::string body(3000, '\0');
        for (std::size_t i = 0; i < body.size(); ++i) body[i] = char(i * 7 + i / 13);
        send(1, c2s, 30, "PUT /bin HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/octet-stream\r\nContent-Length: 3000\r\n\r\n");
        send(1, c2s, 31, body);
        const std::string zipped = gz(std::string(5000, 'a') + "\xe2\x82\xac tail");
        send(1, s2c, 33, "HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             [&] { char b[16]; std::snprintf(b, 16, "%zx\r\n", zipped.size()); return std::string(b); }() + zipped + "\r\n0\r\n\r\n");
        send(1, c2s, 40, "GET http://abs.test/x?y=1 HTTP/1.0\r\n\r\n");
        send(1, s2c, 41, "HTTP/1.0 404 Not Found\r\nContent-Type: image/png\r\nContent-Encoding: deflate\r\n\r\n\x01\x02garbage");
        r.closed(1, at_ms(45), false);
        step();
        r.opened(conn(2, "::1", "::1", 8443));
        send(2, c2s, 51, "OPTIONS * HTTP/1.1\r\n\r\n");
        send(2, s2c, 54, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 4\r\n\r\nab");
        r.lost(2);
        send(2, s2c, 57, "cd");
        r.closed(2, at_ms(60), true);
        r.opened(conn(3, "10.0.0.1", "[fe80::1%eth0]", 80));
        r.upstream_attached(3, {"::ffff:1.2.3.4", 8080}, {-1, -1, -1, -1});
        std::string big(100000, 'x');
        send(3, c2s, 61, "GET /big HTTP/1.1\r\nHost: \r\n\r\n");
        send(3, s2c, 62, "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: 100001\r\n\r\n");
        send(3, s2c, 63, big);
        send(3, c2s, 64, "HEAD /h HTTP/1.1\r\nHost: q\r\n\r\n");
        r.closed(3, at_ms(66), true);
        r.opened(conn(4, "bogus", "", 0));
        send(4, c2s, 70, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        send(4, s2c, 71, "HTTP/1.1 200 OK\r\nContent-Type: font/woff2\r\n\r\n\xff\xfe\xfd");
        r.closed(4, at_ms(75), false);
        step();
        const std::string first_har = disk.file;
        r.restart_har(at_ms(80));
        r.restart_pcapng();
        disk.file.clear();
        r.opened(conn(5));
        send(5, c2s, 81, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        send(5, s2c, 82, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
        r.closed(5, at_ms(90), false);
        step();
        const std::string dir = std::getenv("GOLDEN_DIR") ? std::getenv("GOLDEN_DIR") : "/tmp/capperf/golden";
        std::ofstream(dir + "/har-" + std::to_string(cap) + ".json", std::ios::binary) << first_har << disk.file;
        std::ofstream(dir + "/pcap-" + std::to_string(cap) + ".pcapng", std::ios::binary) << pcap;
    }
}
