#pragma once
// The values one diagnostic report is made of: what the kernel said (sock_diag, /proc/net,
// /proc/sys) and what the proxy counted, at one instant. Plain data: the readers fill it,
// the advice rules and the renderers (JSON, Prometheus, HTML, text) only read it.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hoplens::diag {

// One listening socket as reported to the user.
struct listener_report {
    std::string mode;    // "explicit", "sni", ...; "" when found on the host, not ours
    std::string address; // "127.0.0.1:8080", "[::]:443"
    std::uint16_t port = 0;
    std::optional<int> backlog_requested; // unknown for sockets that are not ours
    int backlog_effective = 0; // the kernel's limit: sk_max_ack_backlog (wqueue)
    std::uint32_t accept_queue_current = 0; // rqueue
    std::uint32_t accept_queue_max = 0;     // wqueue
    std::optional<std::uint64_t> drops;     // SK_MEMINFO_DROPS: this socket's tcp_listendrop()
    bool found = false; // false: registered by the proxy but not seen in sock_diag
    std::uint64_t time_wait = 0; // TIME_WAIT sockets whose local port is this one
};

// A TcpExt counter now and the increase since the baseline.
struct counter_pair {
    std::uint64_t value = 0;
    std::uint64_t since_start = 0;
};

// TcpExt of this network namespace. The field names are the /diag `kernel` keys.
struct kernel_counters {
    counter_pair listen_overflows;     // TcpExtListenOverflows: accept queue full
    counter_pair listen_drops;         // TcpExtListenDrops: every dropped SYN/ACK to a listener
    counter_pair syn_queue_full_drops; // TcpExtTCPReqQFullDrop
    counter_pair syn_queue_full_cookies; // TcpExtTCPReqQFullDoCookies
    counter_pair syncookies_sent;      // TcpExtSyncookiesSent
    counter_pair paws_estab_rejects;   // TcpExtPAWSEstab
    counter_pair tw_bucket_overflows;  // TcpExtTCPTimeWaitOverflow
    counter_pair time_wait_entered;    // TcpExtTW: sockets that finished TIME_WAIT normally
};

struct time_wait_report {
    std::uint64_t own_inbound = 0;  // local port is one of our listeners
    std::uint64_t own_outbound = 0; // remote address:port is an upstream we used
    std::uint64_t host = 0;         // every TIME_WAIT socket in the namespace
    std::optional<std::uint64_t> max_tw_buckets;
    std::uint64_t own() const {
        return own_inbound + own_outbound;
    }
};

// A sysctl as read from /proc/sys: absent (e.g. net.ipv4.tcp_tw_recycle since Linux 4.12)
// or its text with runs of whitespace folded to one space.
struct sysctl_value {
    std::optional<std::string> text;
    std::optional<std::int64_t> as_int() const; // the text when it is one integer
};

// Every proxy_counters field by name ("connections_active" -> n), in declaration order.
using proxy_numbers = std::vector<std::pair<std::string, std::uint64_t>>;

struct snapshot {
    std::vector<listener_report> listeners;
    kernel_counters kernel;
    time_wait_report time_wait;
    std::map<std::string, std::uint64_t> tcp_states; // "ESTAB" -> n, as `ss -ant` names them
    std::map<std::string, sysctl_value> sysctl;      // "net.core.somaxconn" -> value
    std::optional<proxy_numbers> proxy;              // absent for `hoplens diag`
    bool insecure_upstream = false;
    std::string window = "since start"; // what `since_start` covers, for messages
};

// The sysctls every report reads, in display order.
inline constexpr std::array<const char*, 10> sysctl_names = {
    "net.core.somaxconn",           "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_abort_on_overflow", "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_timestamps",      "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_recycle",      "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.ip_local_port_range", "net.ipv4.tcp_fin_timeout",
};

} // namespace hoplens::diag
