#pragma once
// From what the kernel said to a snapshot: build_snapshot() is pure (tests feed recorded
// readings); read_kernel() is the I/O that produces a reading.

#include "diag/diag.hpp"
#include "diag/proc_parse.hpp"
#include "diag/snapshot.hpp"
#include "diag/sock_diag.hpp"

#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace hoplens::diag {

struct kernel_reading {
    counter_table counters;                     // /proc/net/netstat + /proc/net/snmp
    std::map<std::string, sysctl_value> sysctl; // every name in sysctl_names
    std::vector<socket_record> sockets;         // every TCP socket, with SK_MEMINFO
};

// Whose report this is.
struct report_scope {
    // Proxy mode: our registered listeners. Host mode (`hoplens diag`): nullopt, and every
    // LISTEN socket of the namespace is reported (only those on `ports` when not empty).
    std::optional<std::vector<registered_listener>> ours;
    std::vector<std::uint16_t> ports;
    std::set<ip_endpoint> upstreams; // own_outbound: TIME_WAIT toward these
};

// Reads the three sources. Only a failed sock_diag dump or an unreadable /proc/net/netstat is
// an error; a missing sysctl file is an absent value (tcp_tw_recycle since Linux 4.12).
std::variant<kernel_reading, parse_error> read_kernel();
// Only the counters, for baselines.
std::variant<counter_table, parse_error> read_kernel_counters();

// `baseline` is the counter table at the start of the window (an empty table: since boot).
snapshot build_snapshot(const kernel_reading& now, const counter_table& baseline,
                        const report_scope& scope);

} // namespace hoplens::diag
