#include "diag/advice.hpp"

#include "diag/proc_parse.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

using namespace hoplens::diag;

namespace {

// A healthy host on a current kernel: nothing but the tw_recycle note should come out.
snapshot healthy() {
    snapshot s;
    listener_report l;
    l.mode = "explicit";
    l.address = "127.0.0.1:8080";
    l.port = 8080;
    l.backlog_requested = 4096;
    l.backlog_effective = 4096;
    l.accept_queue_max = 4096;
    l.found = true;
    s.listeners.push_back(l);
    const std::pair<const char*, const char*> sysctls[] = {
        {"net.core.somaxconn", "4096"},          {"net.ipv4.tcp_max_syn_backlog", "1024"},
        {"net.ipv4.tcp_abort_on_overflow", "0"}, {"net.ipv4.tcp_syncookies", "1"},
        {"net.ipv4.tcp_timestamps", "1"},        {"net.ipv4.tcp_tw_reuse", "2"},
        {"net.ipv4.tcp_max_tw_buckets", "1000"}, {"net.ipv4.ip_local_port_range", "32768 60999"},
        {"net.ipv4.tcp_fin_timeout", "60"}};
    for (const auto& [name, value] : sysctls) {
        s.sysctl[name] = parse_sysctl_text(value);
    }
    s.sysctl["net.ipv4.tcp_tw_recycle"] = sysctl_value{};
    s.time_wait.max_tw_buckets = 1000;
    return s;
}

std::vector<std::string> ids(const std::vector<advice>& items) {
    std::vector<std::string> out;
    for (const auto& a : items) {
        out.push_back(a.id);
    }
    return out;
}

struct rule_case {
    const char* name;
    std::function<void(snapshot&)> change;
    std::string_view id;
    advice_level level;
    std::vector<std::string> says; // the numbers seen and the fix
};

} // namespace

TEST_CASE("a healthy snapshot gives only the tw_recycle note") {
    const auto out = advise(healthy());
    REQUIRE(out.size() == 1);
    CHECK(out[0].id == advice_id::tw_recycle_absent);
    CHECK(out[0].level == advice_level::info);
    CHECK(out[0].message.find("4.12") != std::string::npos);
}

TEST_CASE("each rule: fires on its condition, names the number and the fix") {
    const std::vector<rule_case> cases = {
        {"somaxconn clamps", [](snapshot& s) {
             s.sysctl["net.core.somaxconn"] = parse_sysctl_text("128");
             s.listeners[0].backlog_effective = 128;
         },
         advice_id::somaxconn_clamps_backlog, advice_level::warning,
         {"4096", "128", "net.core.somaxconn=4096"}},
        {"accept queue over 80%", [](snapshot& s) { s.listeners[0].accept_queue_current = 3500; },
         advice_id::accept_queue_full, advice_level::critical, {"3500", "4096", "--threads"}},
        {"ListenOverflows rising", [](snapshot& s) {
             s.kernel.listen_overflows = {120, 17};
             s.kernel.listen_drops = {130, 17};
         },
         advice_id::listen_overflows_rising, advice_level::critical,
         {"17", "120", "--backlog", "somaxconn"}},
        {"SYN queue drops", [](snapshot& s) { s.kernel.syn_queue_full_drops = {9, 9}; },
         advice_id::syn_queue_overflow, advice_level::critical,
         {"TCPReqQFullDrop +9", "net.ipv4.tcp_max_syn_backlog=2048", "tcp_syncookies=1"}},
        {"syncookies", [](snapshot& s) { s.kernel.syncookies_sent = {5, 5}; },
         advice_id::syn_queue_overflow, advice_level::warning, {"SyncookiesSent +5"}},
        {"abort_on_overflow", [](snapshot& s) {
             s.sysctl["net.ipv4.tcp_abort_on_overflow"] = parse_sysctl_text("1");
         },
         advice_id::abort_on_overflow, advice_level::warning,
         {"tcp_abort_on_overflow=0", "RST"}},
        {"outbound TIME_WAIT vs port range", [](snapshot& s) {
             s.time_wait.own_outbound = 20000;
             s.time_wait.max_tw_buckets = 100000;
         },
         advice_id::outbound_time_wait_high, advice_level::warning,
         {"20000", "28232", "tcp_tw_reuse=1 (now 2: loopback only)", "tcp_timestamps=1"}},
        {"TIME_WAIT near max buckets", [](snapshot& s) { s.time_wait.host = 900; },
         advice_id::time_wait_near_max, advice_level::warning,
         {"900", "1000", "tcp_max_tw_buckets=2000"}},
        {"TIME_WAIT bucket overflow", [](snapshot& s) { s.kernel.tw_bucket_overflows = {3, 3}; },
         advice_id::time_wait_near_max, advice_level::critical, {"TCPTimeWaitOverflow +3"}},
        {"tw_recycle on (old kernel)", [](snapshot& s) {
             s.sysctl["net.ipv4.tcp_tw_recycle"] = parse_sysctl_text("1");
         },
         advice_id::tw_recycle_enabled, advice_level::critical, {"NAT", "tcp_tw_recycle=0"}},
        {"timestamps off with tw_reuse", [](snapshot& s) {
             s.sysctl["net.ipv4.tcp_timestamps"] = parse_sysctl_text("0");
             s.sysctl["net.ipv4.tcp_tw_reuse"] = parse_sysctl_text("1");
         },
         advice_id::timestamps_off, advice_level::warning, {"tcp_timestamps=1"}},
        {"PAWS rejects", [](snapshot& s) { s.kernel.paws_estab_rejects = {282, 12}; },
         advice_id::paws_rejects_rising, advice_level::warning, {"12", "282"}},
        {"listener not in the kernel", [](snapshot& s) { s.listeners[0].found = false; },
         advice_id::listener_not_found, advice_level::warning, {"explicit@127.0.0.1:8080"}},
        {"insecure upstream", [](snapshot& s) { s.insecure_upstream = true; },
         advice_id::insecure_upstream, advice_level::warning, {"--insecure-upstream"}},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        auto s = healthy();
        c.change(s);
        const auto out = advise(s);
        const auto it = std::find_if(out.begin(), out.end(),
                                     [&](const advice& a) { return a.id == c.id; });
        REQUIRE_MESSAGE(it != out.end(), "fired: " << doctest::toString(ids(out)));
        CHECK(it->level == c.level);
        for (const auto& fragment : c.says) {
            CHECK_MESSAGE(it->message.find(fragment) != std::string::npos,
                          "'" << fragment << "' not in: " << it->message);
        }
        // The change fired exactly this rule (besides the tw_recycle note of new kernels).
        CHECK(std::count_if(out.begin(), out.end(), [](const advice& a) {
                  return a.id != advice_id::tw_recycle_absent;
              }) == 1);
    }
}

TEST_CASE("below the thresholds nothing fires") {
    auto s = healthy();
    s.listeners[0].accept_queue_current = 3276; // exactly 80%
    s.time_wait.host = 799;
    s.time_wait.own_outbound = 14115; // just under half of 28232 ports
    s.kernel.listen_overflows = {50, 0}; // old overflows, none since start
    CHECK(ids(advise(s)) == std::vector<std::string>{"tw_recycle_absent"});
}

TEST_CASE("most severe first") {
    auto s = healthy();
    s.insecure_upstream = true;
    s.kernel.listen_overflows = {1, 1};
    const auto out = advise(s);
    REQUIRE(out.size() == 3);
    CHECK(out[0].level == advice_level::critical);
    CHECK(out[2].level == advice_level::info);
}
