#include "capture/capture.hpp"

#include "capture_test_util.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace hoplens::capture {
namespace {

using test::as_bytes;
using test::at_ms;
using test::conn;

constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), int(buf.size()), p) != nullptr) {
        out += buf.data();
    }
    ::pclose(p);
    return out;
}

std::size_t count_lines(const std::string& s) {
    return std::size_t(std::count(s.begin(), s.end(), '\n'));
}

struct pcap_file {
    std::filesystem::path path;
    explicit pcap_file(const std::string& bytes, const std::string& name) {
        path = std::filesystem::temp_directory_path() /
               ("hoplens-capture-" + std::to_string(::getpid()) + "-" + name + ".pcapng");
        std::ofstream(path, std::ios::binary) << bytes;
    }
    ~pcap_file() {
        std::filesystem::remove(path);
    }
    std::string tshark(const std::string& args) const {
        return run_command("tshark -n -r " + path.string() + " " + args);
    }
};

// Chunks as the recorder gets them: bytes alone, or (as the proxy's capture queue gives them)
// copied into a chunk_arena with their piece sums, which then make the TCP checksums.
struct chunk_feed {
    recorder& r;
    bool summed;
    chunk_arena arena;
    void operator()(conn_id id, direction dir, time_point at, std::span<const std::byte> bytes) {
        if (summed) {
            r.chunk(id, dir, at, arena.add(bytes));
        } else {
            r.chunk(id, dir, at, bytes);
        }
    }
};

// Two keep-alive exchanges, a large chunked download split over many chunks and segments,
// a pipelined pair, then a close.
std::string synthesize(const connection_info& info, bool summed = false) {
    recorder rec({"test", 1024, false, true}, at_ms(0));
    chunk_feed r{rec, summed, {}};
    rec.opened(info);
    rec.upstream_attached(info.id, info.upstream, {0, 1000, 2000, 3000});
    std::int64_t t = 10;
    r(info.id, c2s, at_ms(t++), as_bytes("GET /one HTTP/1.1\r\nHost: example.test\r\n\r\n"));
    r(info.id, s2c, at_ms(t++), as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"));
    r(info.id, c2s, at_ms(t++), as_bytes("GET /big HTTP/1.1\r\nHost: example.test\r\n\r\n"));
    const std::string big(100 * 1024, 'x');
    r(info.id, s2c, at_ms(t++),
            as_bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n19000\r\n"));
    for (int i = 0; i < 4; ++i) { // 4 x 25 KiB = 0x19000
        r(info.id, s2c, at_ms(t++), as_bytes(std::string_view(big).substr(0, 25600)));
    }
    r(info.id, s2c, at_ms(t++), as_bytes("\r\n0\r\n\r\n"));
    const std::string huge(200 * 1024, 'y'); // one chunk larger than the 64 KiB ACK interval
    r(info.id, c2s, at_ms(t++),
            as_bytes("POST /up HTTP/1.1\r\nHost: example.test\r\nContent-Length: 204800\r\n\r\n"));
    r(info.id, c2s, at_ms(t++), as_bytes(huge));
    r(info.id, s2c, at_ms(t++), as_bytes("HTTP/1.1 204 No Content\r\n\r\n"));
    r(info.id, c2s, at_ms(t++),
            as_bytes("GET /p1 HTTP/1.1\r\nHost: example.test\r\n\r\n"
                     "GET /p2 HTTP/1.1\r\nHost: example.test\r\n\r\n"));
    r(info.id, s2c, at_ms(t++),
            as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np1"
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np2"));
    rec.closed(info.id, at_ms(t++), false);
    return test::take_pcapng(rec);
}

void check_decodes_cleanly(const pcap_file& f, const std::string& extra = "") {
    // Fields of messages sharing a segment come comma-separated on one line.
    auto lines = [](std::string s) {
        std::replace(s.begin(), s.end(), ',', '\n');
        return s;
    };
    const auto requests = lines(f.tshark(extra + " -Y http.request -T fields -e http.request.uri"));
    CHECK(requests == "/one\n/big\n/up\n/p1\n/p2\n");
    const auto responses =
        lines(f.tshark(extra + " -Y http.response -T fields -e http.response.code"));
    CHECK(responses == "200\n200\n204\n200\n200\n");
    CHECK(f.tshark(extra + " -Y tcp.analysis.flags") == "");
    // checksum.status: 0 bad, 1 good, 2 not checked.
    CHECK(f.tshark(extra + " -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status != 1'") == "");
    CHECK(f.tshark(extra + " -o tcp.check_checksum:TRUE -Y tcp.checksum.status==1").size() > 0);
    CHECK(f.tshark(extra + " -o ip.check_checksum:TRUE -Y 'ip && ip.checksum.status != 1'") == "");
    CHECK(count_lines(f.tshark(extra + " -Y 'tcp.flags.syn==1'")) == 2);
    CHECK(count_lines(f.tshark(extra + " -Y 'tcp.flags.fin==1'")) == 2);
}

TEST_CASE("pcapng over IPv4 on 443 decodes as HTTP with no analysis flags and good checksums") {
    const pcap_file f(synthesize(conn(7)), "v4");
    check_decodes_cleanly(f);
    const auto conv = f.tshark("-q -z conv,tcp");
    CHECK(conv.find("127.0.0.1:40007") != std::string::npos);
    CHECK(conv.find("127.0.0.2:443") != std::string::npos);
}

TEST_CASE("pcapng from chunks summed on their way into the capture queue is the same file") {
    const std::string plain = synthesize(conn(7));
    const std::string summed = synthesize(conn(7), true);
    CHECK(summed == plain);
    const pcap_file f(summed, "summed");
    check_decodes_cleanly(f);
}

TEST_CASE("pcapng over IPv6 decodes the same") {
    const pcap_file f(synthesize(conn(8, "::1", "2001:db8::5", 8080)), "v6");
    check_decodes_cleanly(f);
    CHECK(f.tshark("-Y ipv6.dst==2001:db8::5 -c 1").size() > 0);
}

TEST_CASE("pcapng with a v4-mapped client and a v4 upstream stays IPv4") {
    const pcap_file f(synthesize(conn(9, "::ffff:127.0.0.1", "127.0.0.3", 80)), "mapped");
    check_decodes_cleanly(f);
    CHECK(f.tshark("-Y ipv6 -c 1") == "");
}

TEST_CASE("pcapng on a port tshark does not know still decodes as HTTP") {
    const pcap_file f(synthesize(conn(10, "127.0.0.1", "127.0.0.2", 9443)), "odd-port");
    check_decodes_cleanly(f);
}

TEST_CASE("bytes lost from the capture queue leave a gap Wireshark sees, with a comment") {
    const auto info = conn(11);
    recorder rec({"test", 1024, false, true}, at_ms(0));
    rec.opened(info);
    rec.upstream_attached(info.id, info.upstream, {0, 1000, 2000, 3000});
    rec.chunk(info.id, c2s, at_ms(10), as_bytes("GET /one HTTP/1.1\r\nHost: example.test\r\n\r\n"));
    rec.chunk(info.id, s2c, at_ms(11), as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"));
    rec.lost(info.id, {0, 5}); // "56789" never reached the recorder
    rec.chunk(info.id, c2s, at_ms(12), as_bytes("GET /two HTTP/1.1\r\nHost: example.test\r\n\r\n"));
    rec.chunk(info.id, s2c, at_ms(13), as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"));
    rec.closed(info.id, at_ms(14), false);
    const pcap_file f(test::take_pcapng(rec), "lost");
    // Without the gap, /two's response would be read as the rest of /one's body.
    CHECK(count_lines(f.tshark("-Y tcp.analysis.lost_segment")) == 1);
    CHECK(f.tshark("-Y 'frame.comment contains \"not in the capture\"' -T fields -e frame.comment")
              .find("5 bytes before this segment") != std::string::npos);
    CHECK(f.tshark("-Y http.response -T fields -e http.response.code").find("200") !=
          std::string::npos);
}

} // namespace
} // namespace hoplens::capture
