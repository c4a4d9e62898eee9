#include "diag/proc_parse.hpp"

#include "test_data.hpp"

using namespace hoplens::diag;

TEST_CASE("recorded /proc/net/netstat and snmp: the scene of data/record.py") {
    const auto table = test::recorded_counters();
    CHECK(table.at("TcpExt.ListenOverflows") == 4);
    CHECK(table.at("TcpExt.ListenDrops") == 4);
    CHECK(table.at("TcpExt.TW") == 3);
    CHECK(table.at("TcpExt.TCPReqQFullDrop") == 0);
    CHECK(table.at("Tcp.MaxConn") == -1); // signed, not wrapped
    CHECK(table.at("Tcp.PassiveOpens") >= 3);
}

TEST_CASE("counter tables: accepted shapes") {
    const struct {
        const char* text;
        const char* key;
        std::int64_t value;
    } cases[] = {
        {"TcpExt: A B\nTcpExt: 1 2\n", "TcpExt.B", 2},
        {"TcpExt: A B\nTcpExt: 1 2", "TcpExt.A", 1}, // no final newline
        {"Ip: X\nIp: 7\n\nTcp: Y\nTcp: 9\n", "Tcp.Y", 9},
        {"Tcp: A\r\nTcp: 5\r\n", "Tcp.A", 5},
        {"TcpExt: Big\nTcpExt: 18446744073709551\n", "TcpExt.Big", 18446744073709551},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto parsed = parse_proc_net_counters(c.text);
        REQUIRE(std::holds_alternative<counter_table>(parsed));
        CHECK(std::get<counter_table>(parsed).at(c.key) == c.value);
    }
}

TEST_CASE("counter tables: rejected shapes") {
    for (const char* text : {
             "TcpExt: A B\n",                 // header without values
             "TcpExt: A B\nTcpExt: 1\n",      // count mismatch
             "TcpExt: A\nIpExt: 1\n",         // prefixes differ
             "TcpExt: A\nTcpExt: x\n",        // not a number
             "TcpExt: A\nTcpExt: 1x\n",       // trailing junk
             "TcpExt A\nTcpExt 1\n",          // no colon
         }) {
        CAPTURE(text);
        CHECK(std::holds_alternative<parse_error>(parse_proc_net_counters(text)));
    }
}

TEST_CASE("every prefix of the recorded netstat either parses or fails cleanly") {
    const auto text = test::read_data("proc_net_netstat.txt");
    for (std::size_t n = 0; n <= text.size(); n += 7) {
        const auto parsed = parse_proc_net_counters(std::string_view(text).substr(0, n));
        (void)parsed; // must not crash or read past the end (run under ASan)
    }
    CHECK(std::holds_alternative<parse_error>(
        parse_proc_net_counters(std::string_view(text).substr(0, text.size() / 2))));
}

TEST_CASE("sysctl text and port ranges") {
    CHECK(parse_sysctl_text("4096\n").text == "4096");
    CHECK(parse_sysctl_text("4096\n").as_int() == 4096);
    CHECK(parse_sysctl_text("32768\t60999\n").text == "32768 60999");
    CHECK_FALSE(parse_sysctl_text("32768\t60999\n").as_int());
    CHECK(parse_port_range(parse_sysctl_text("32768\t60999\n")) ==
          std::pair<std::int64_t, std::int64_t>{32768, 60999});
    CHECK_FALSE(parse_port_range(parse_sysctl_text("60999 32768")));
    CHECK_FALSE(parse_port_range(sysctl_value{}));
    CHECK_FALSE(sysctl_value{}.as_int());
    CHECK(sysctl_path("net.ipv4.tcp_tw_reuse") == "/proc/sys/net/ipv4/tcp_tw_reuse");
}
