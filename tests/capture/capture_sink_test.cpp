#include "proxy/capture_sink.hpp"

#include "capture_test_util.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace hoplens::proxy {
namespace {

using capture::direction;
using capture::test::as_bytes;
using capture::test::at_ms;
using capture::test::slurp;
using capture::test::conn;
namespace fs = std::filesystem;

struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("hoplens-sink-" + std::to_string(::getpid()) +
                                                 "-" + std::to_string(counter()++));
    temp_dir() {
        fs::create_directories(path);
    }
    ~temp_dir() {
        fs::remove_all(path);
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

void one_exchange(capture_sink& sink, capture::conn_id id, std::string_view path = "/") {
    sink.opened(conn(id));
    sink.upstream_attached(id, {"127.0.0.2", 443}, {});
    sink.chunk(id, direction::client_to_server, at_ms(1),
               as_bytes("GET " + std::string(path) + " HTTP/1.1\r\nHost: h\r\n\r\n"));
    sink.chunk(id, direction::server_to_client, at_ms(2),
               as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    sink.closed(id, at_ms(3), false);
}

boost::json::array har_entries(const fs::path& p) {
    return boost::json::parse(slurp(p)).at("log").at("entries").as_array();
}

TEST_CASE("the sink writes a valid HAR, a pcapng and a 0600 key log") {
    temp_dir d;
    diag::proxy_counters counters;
    capture_sink_options o;
    o.har = d.path / "c.har";
    o.pcapng = d.path / "c.pcapng";
    o.keylog = d.path / "keys.log";
    o.version = "1.2.3";
    {
        capture_sink sink(o, counters);
        CHECK(sink.enabled());
        CHECK(sink.keylog_enabled());
        one_exchange(sink, 1);
        sink.keylog_line("CLIENT_RANDOM 00 11");
        sink.stop();
        sink.stop();
    }
    const auto entries = har_entries(o.har);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].at("response").at("content").at("text") == "ok");
    const std::string pcap = slurp(o.pcapng);
    CHECK(pcap.size() > 200);
    CHECK(pcap.substr(0, 4) == std::string("\x0a\x0d\x0d\x0a", 4));
    CHECK(slurp(o.keylog) == "CLIENT_RANDOM 00 11\n");
    struct stat st {};
    REQUIRE(::stat(o.keylog.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(diag::read(counters.capture_dropped_total) == 0);
    CHECK(diag::read(counters.capture_write_errors_total) == 0);
}

TEST_CASE("a sink with no files is disabled and ignores events") {
    diag::proxy_counters counters;
    capture_sink sink({}, counters);
    CHECK(!sink.enabled());
    CHECK(!sink.keylog_enabled());
    one_exchange(sink, 1);
    sink.stop();
    CHECK(diag::read(counters.capture_dropped_total) == 0);
}

TEST_CASE("a full queue drops, counts, and marks the exchange incomplete") {
    temp_dir d;
    diag::proxy_counters counters;
    capture_sink_options o;
    o.har = d.path / "c.har";
    o.queue_bytes = 30; // the request (27 bytes) fits, the response (40) never does
    {
        capture_sink sink(o, counters);
        one_exchange(sink, 1);
    }
    CHECK(diag::read(counters.capture_dropped_total) == 1);
    const auto entries = har_entries(o.har);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].at("comment").as_string().find("capture queue full") !=
          boost::json::string::npos);
}

TEST_CASE("a connection's end is never dropped, however full the queue") {
    // Its close-delimited response completes only at the close: a dropped close would leave
    // the exchange, and the connection's state, in the recorder for good.
    temp_dir d;
    diag::proxy_counters counters;
    capture_sink_options o;
    o.har = d.path / "c.har";
    o.queue_events = 8; // control events are refused past 4 x 8 queued
    o.batch_pause = std::chrono::milliseconds(500);
    {
        capture_sink sink(o, counters);
        sink.opened(conn(100)); // wakes the capture thread, which then pauses between batches
        ::usleep(50 * 1000);
        sink.opened(conn(1));
        sink.upstream_attached(1, {"127.0.0.2", 443}, {});
        sink.chunk(1, direction::client_to_server, at_ms(1), as_bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        sink.chunk(1, direction::server_to_client, at_ms(2), as_bytes("HTTP/1.1 200 OK\r\n\r\nuntil close"));
        for (capture::conn_id id = 2; id < 2000; ++id) { // far past the limit, even if the
                                                         // thread takes a batch meanwhile
            sink.opened(conn(id));
        }
        sink.closed(1, at_ms(3), false);
    }
    CHECK(diag::read(counters.capture_dropped_total) > 0);
    const auto entries = har_entries(o.har);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].at("response").at("content").at("text") == "until close");
    CHECK(!entries[0].as_object().contains("comment"));
}

TEST_CASE("reopen starts fresh valid files at the same paths (logrotate)") {
    temp_dir d;
    diag::proxy_counters counters;
    capture_sink_options o;
    o.har = d.path / "c.har";
    o.pcapng = d.path / "c.pcapng";
    capture_sink sink(o, counters);
    one_exchange(sink, 1, "/before");
    // logrotate renames, then signals; wait until the entry is on disk first.
    for (int i = 0; i < 200 && har_entries(o.har).empty(); ++i) {
        ::usleep(10 * 1000);
    }
    fs::rename(o.har, d.path / "c.har.1");
    fs::rename(o.pcapng, d.path / "c.pcapng.1");
    sink.reopen();
    for (int i = 0; i < 200 && !fs::exists(o.har); ++i) {
        ::usleep(10 * 1000);
    }
    one_exchange(sink, 2, "/after");
    sink.stop();
    const auto old_entries = har_entries(d.path / "c.har.1");
    REQUIRE(old_entries.size() == 1);
    CHECK(old_entries[0].at("request").at("url") == "https://h/before");
    const auto new_entries = har_entries(o.har);
    REQUIRE(new_entries.size() == 1);
    CHECK(new_entries[0].at("request").at("url") == "https://h/after");
    CHECK(slurp(o.pcapng).substr(0, 4) == std::string("\x0a\x0d\x0d\x0a", 4));
}

TEST_CASE("a write error (full disk) is counted and the sink goes on") {
    temp_dir d;
    diag::proxy_counters counters;
    capture_sink_options o;
    o.har = "/dev/full";
    o.pcapng = d.path / "c.pcapng";
    {
        capture_sink sink(o, counters);
        for (capture::conn_id id = 1; id <= 3; ++id) {
            one_exchange(sink, id);
        }
    }
    CHECK(diag::read(counters.capture_write_errors_total) >= 1);
    CHECK(slurp(o.pcapng).size() > 500); // the other file kept working
}

} // namespace
} // namespace hoplens::proxy
