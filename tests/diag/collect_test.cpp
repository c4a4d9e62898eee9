#include "diag/collect.hpp"

#include "test_data.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

using namespace hoplens::diag;

namespace {

kernel_reading recorded_reading() {
    kernel_reading r;
    r.counters = test::recorded_counters();
    r.sockets = test::recorded_sockets();
    r.sysctl["net.core.somaxconn"] = parse_sysctl_text("4096\n");
    r.sysctl["net.ipv4.tcp_max_tw_buckets"] = parse_sysctl_text("262144\n");
    return r;
}

registered_listener ours(std::string mode, std::string address, int backlog, std::uint32_t inode,
                         std::uint16_t port) {
    return {{std::move(mode), std::move(address), backlog, -1}, inode,
            parse_ip_endpoint("127.0.0.1", port)};
}

} // namespace

TEST_CASE("host mode: every listener, with its TIME_WAIT, from the recorded scene") {
    const auto snap = build_snapshot(recorded_reading(), {}, report_scope{});
    REQUIRE(snap.listeners.size() == 2);
    const auto& a = snap.listeners[0];
    CHECK(a.address == "127.0.0.1:7001");
    CHECK(a.accept_queue_current == 4);
    CHECK(a.accept_queue_max == 3);
    CHECK(a.backlog_effective == 3);
    CHECK_FALSE(a.backlog_requested);
    CHECK(a.drops == 4u);
    CHECK(snap.listeners[1].time_wait == 3);
    CHECK(snap.time_wait.host == 3);
    CHECK(snap.time_wait.own_inbound == 3); // host mode: "own" = the listed ports
    CHECK(snap.time_wait.max_tw_buckets == 262144u);
    CHECK(snap.tcp_states.at("TIME-WAIT") == 3);
    CHECK(snap.kernel.listen_overflows.value == 4);
    CHECK(snap.kernel.listen_overflows.since_start == 4); // empty baseline: since boot
}

TEST_CASE("host mode: --port filters listeners and what counts as inbound") {
    report_scope scope;
    scope.ports = {7001};
    const auto snap = build_snapshot(recorded_reading(), {}, scope);
    REQUIRE(snap.listeners.size() == 1);
    CHECK(snap.listeners[0].port == 7001);
    CHECK(snap.time_wait.own_inbound == 0);
    CHECK(snap.time_wait.host == 3);
}

TEST_CASE("proxy mode: our listeners matched by inode; a missing one is reported") {
    const auto reading = recorded_reading();
    const auto it = std::find_if(reading.sockets.begin(), reading.sockets.end(),
                                 [](const socket_record& s) { return s.local.port == 7001; });
    report_scope scope;
    scope.ours = {ours("explicit", "127.0.0.1:7001", 4096, it->inode, 7001),
                  ours("sni", "127.0.0.1:9", 100, 424242, 9)};
    auto baseline = reading.counters;
    baseline["TcpExt.ListenOverflows"] = 1;
    const auto snap = build_snapshot(reading, baseline, scope);
    REQUIRE(snap.listeners.size() == 2);
    CHECK(snap.listeners[0].mode == "explicit");
    CHECK(snap.listeners[0].found);
    CHECK(snap.listeners[0].backlog_requested == 4096);
    CHECK(snap.listeners[0].backlog_effective == 3);
    CHECK_FALSE(snap.listeners[1].found);
    CHECK(snap.listeners[1].backlog_effective == 100); // min(100, somaxconn 4096)
    CHECK(snap.kernel.listen_overflows.since_start == 3);
    CHECK(snap.kernel.listen_drops.since_start == 0);
    CHECK(snap.time_wait.own_inbound == 0); // TIME_WAIT is on 7002, not ours here
}

TEST_CASE("proxy mode: TIME_WAIT toward a noted upstream is own_outbound") {
    auto reading = recorded_reading();
    socket_record tw;
    tw.family = 2;
    tw.state = tcp_state_time_wait;
    tw.local = *parse_ip_endpoint("127.0.0.1", 50000);
    tw.remote = *parse_ip_endpoint("10.0.0.1", 443);
    reading.sockets.push_back(tw);
    tw.remote = *parse_ip_endpoint("10.0.0.2", 443); // not an upstream of ours
    reading.sockets.push_back(tw);
    report_scope scope;
    scope.ours = std::vector<registered_listener>{};
    scope.upstreams = {*parse_ip_endpoint("10.0.0.1", 443)};
    const auto snap = build_snapshot(reading, {}, scope);
    CHECK(snap.time_wait.own_outbound == 1);
    CHECK(snap.time_wait.host == 5);
    CHECK(snap.time_wait.own() == 1);
}

TEST_CASE("a counter that went backwards restarts from zero instead of wrapping") {
    auto reading = recorded_reading();
    counter_table baseline{{"TcpExt.ListenOverflows", 100}};
    const auto snap = build_snapshot(reading, baseline, report_scope{});
    CHECK(snap.kernel.listen_overflows.since_start == 4);
}

TEST_CASE("ip endpoints: IPv4 equals its mapped IPv6 form") {
    CHECK(parse_ip_endpoint("10.0.0.1", 1) == parse_ip_endpoint("::ffff:10.0.0.1", 1));
    CHECK(to_string(*parse_ip_endpoint("::1", 8080)) == "[::1]:8080");
    CHECK(to_string(*parse_ip_endpoint("10.0.0.1", 443)) == "10.0.0.1:443");
    CHECK_FALSE(parse_ip_endpoint("example.com", 1));
}

TEST_CASE("registries: bounded upstream set, listener identity read from the fd") {
    upstream_registry upstreams(2);
    upstreams.note_upstream(*parse_ip_endpoint("10.0.0.1", 443));
    upstreams.note_upstream(*parse_ip_endpoint("10.0.0.1", 443));
    upstreams.note_upstream(*parse_ip_endpoint("10.0.0.2", 443));
    upstreams.note_upstream(*parse_ip_endpoint("10.0.0.3", 443));
    CHECK(upstreams.list().size() == 2);
    CHECK(upstreams.dropped_entries() == 1);

    const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    listener_registry listeners;
    listeners.add({"sni", "[::1]:0", 16, fd});
    ::close(fd);
    const auto list = listeners.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].inode != 0);
    REQUIRE(list[0].local);
    CHECK(list[0].local->port != 0);
    CHECK(to_string(*list[0].local).rfind("[::1]:", 0) == 0);
}
