#include "diag/render.hpp"

#include "diag/counter_values.hpp"
#include "test_data.hpp"

#include <boost/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <set>

using namespace hoplens::diag;
namespace json = boost::json;

namespace {

snapshot recorded_snapshot() {
    kernel_reading r;
    r.counters = test::recorded_counters();
    r.sockets = test::recorded_sockets();
    r.sysctl["net.core.somaxconn"] = parse_sysctl_text("4096");
    r.sysctl["net.ipv4.ip_local_port_range"] = parse_sysctl_text("32768\t60999");
    r.sysctl["net.ipv4.tcp_tw_recycle"] = sysctl_value{};
    report_scope scope;
    scope.ours = std::vector<registered_listener>{
        {{"explicit", "127.0.0.1:7001", 4096, -1}, 0, parse_ip_endpoint("127.0.0.1", 7001)},
        {{"reverse:https://a\"b:443", "[::1]:7002", 64, -1}, 0, parse_ip_endpoint("::1", 7002)}};
    auto snap = build_snapshot(r, {}, scope);
    proxy_counters counters;
    add(counters.requests_total, 42);
    snap.proxy = counter_values(counters);
    return snap;
}

std::set<std::string> keys(const json::value& v) {
    std::set<std::string> out;
    for (const auto& kv : v.as_object()) {
        out.insert(std::string(kv.key()));
    }
    return out;
}

// Runs a command with `input` on stdin; returns {exit status, stdout+stderr}.
std::pair<int, std::string> run_with_input(const std::string& command, const std::string& input) {
    const auto path = std::filesystem::temp_directory_path() / "hoplens_diag_render_test.txt";
    {
        std::ofstream(path) << input;
    }
    std::string output;
    FILE* pipe = ::popen((command + " < " + path.string() + " 2>&1").c_str(), "r");
    REQUIRE(pipe);
    char buf[4096];
    while (const auto n = std::fread(buf, 1, sizeof buf, pipe)) {
        output.append(buf, n);
    }
    const int status = ::pclose(pipe);
    std::filesystem::remove(path);
    return {WEXITSTATUS(status), output};
}

} // namespace

TEST_CASE("/diag JSON has exactly DESIGN.md's keys") {
    const auto snap = recorded_snapshot();
    const auto doc = json::parse(render_json(snap, advise(snap)));
    using set = std::set<std::string>;
    CHECK(keys(doc) ==
          set{"listeners", "kernel", "time_wait", "tcp_states", "sysctl", "advice", "proxy"});
    const auto& listeners = doc.at("listeners").as_array();
    REQUIRE(listeners.size() == 2);
    CHECK(keys(listeners[0]) == set{"mode", "address", "backlog_requested", "backlog_effective",
                                    "accept_queue", "drops"});
    CHECK(keys(listeners[0].at("accept_queue")) == set{"current", "max"});
    CHECK(listeners[0].at("accept_queue").at("current").to_number<int>() == 4);
    CHECK(listeners[0].at("accept_queue").at("max").to_number<int>() == 3);
    CHECK(listeners[0].at("backlog_requested").to_number<int>() == 4096);
    CHECK(listeners[0].at("drops").to_number<int>() == 4);
    CHECK(keys(doc.at("kernel")) ==
          set{"listen_overflows", "listen_overflows_since_start", "listen_drops",
              "listen_drops_since_start", "syn_queue_full_drops",
              "syn_queue_full_drops_since_start", "syncookies_sent", "syncookies_sent_since_start",
              "paws_estab_rejects", "paws_estab_rejects_since_start", "tw_bucket_overflows",
              "tw_bucket_overflows_since_start"});
    CHECK(keys(doc.at("time_wait")) ==
          set{"own", "own_inbound", "own_outbound", "host", "max_tw_buckets"});
    CHECK(doc.at("time_wait").at("own_inbound").to_number<int>() == 3);
    CHECK(doc.at("tcp_states").at("TIME-WAIT").to_number<int>() == 3);
    CHECK(doc.at("sysctl").at("net.core.somaxconn").to_number<int>() == 4096);
    CHECK(doc.at("sysctl").at("net.ipv4.ip_local_port_range").as_string() == "32768 60999");
    CHECK(doc.at("sysctl").at("net.ipv4.tcp_tw_recycle").is_null());
    for (const auto& a : doc.at("advice").as_array()) {
        CHECK(keys(a) == set{"id", "level", "message"});
    }
    CHECK(keys(doc.at("proxy")) ==
          set{"connections_active", "connections_total", "requests_total",
              "upstream_errors_total", "certs_minted_total", "capture_dropped_total"});
    CHECK(doc.at("proxy").at("requests_total").to_number<int>() == 42);
}

TEST_CASE("/metrics passes promtool check metrics") {
    const auto snap = recorded_snapshot();
    const auto text = render_metrics(snap, advise(snap));
    CHECK(text.find("hoplens_listener_accept_queue{listener=\"explicit@127.0.0.1:7001\","
                    "socket=\"0\"} 4\n") != std::string::npos);
    CHECK(text.find("hoplens_listener_accept_queue_max{listener=\"explicit@127.0.0.1:7001\","
                    "socket=\"0\"} 3\n") != std::string::npos);
    CHECK(text.find("listener=\"reverse:https://a\\\"b:443@[::1]:7002\"") != std::string::npos);
    CHECK(text.find("hoplens_kernel_listen_overflows_total 4\n") != std::string::npos);
    CHECK(text.find("hoplens_requests_total 42\n") != std::string::npos);
    CHECK(text.find("# TYPE hoplens_connections_active gauge\n") != std::string::npos);
    const auto checked = run_with_input("promtool check metrics", text);
    CHECK_MESSAGE(checked.first == 0, checked.second);
    // And promtool can fail: a counter without _total is rejected.
    const auto [bad_status, bad_output] =
        run_with_input("promtool check metrics", "# HELP x_bytes x\n# TYPE x_bytes counter\nx_bytes 1\n");
    CHECK(bad_status != 0);
}

TEST_CASE("the HTML page: self-contained, escaped, refreshing, with the numbers and advice") {
    const auto snap = recorded_snapshot();
    const auto page = render_html(snap, advise(snap), 5);
    CHECK(page.find("<meta http-equiv=\"refresh\" content=\"5\">") != std::string::npos);
    CHECK(page.find("explicit") != std::string::npos);
    CHECK(page.find("127.0.0.1:7001") != std::string::npos);
    CHECK(page.find("reverse:https://a&quot;b:443") != std::string::npos);
    CHECK(page.find("somaxconn_clamps_backlog") != std::string::npos);
    CHECK(page.find("src=") == std::string::npos); // no external scripts or images
    CHECK(page.find("http://") == std::string::npos);
    CHECK(page.find("https://a") != std::string::npos); // only the listener's own name
}

TEST_CASE("the text screen: the seed's commands in one") {
    const auto snap = recorded_snapshot();
    const auto text = render_text(snap, advise(snap));
    for (const char* part : {"127.0.0.1:7001", "ListenOverflows", "TIME_WAIT: 3",
                             "net.ipv4.tcp_tw_recycle", "absent on this kernel", "TIME-WAIT 3",
                             "somaxconn_clamps_backlog"}) {
        CHECK_MESSAGE(text.find(part) != std::string::npos, part);
    }
}
