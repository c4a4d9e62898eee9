#pragma once
// Pure parsers for the text the kernel exposes under /proc: the counter tables of
// /proc/net/netstat and /proc/net/snmp, and single sysctl files. No I/O here: the readers
// (kernel_read.cpp) hand in the bytes, the tests hand in recorded files.

#include "diag/snapshot.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hoplens::diag {

struct parse_error {
    std::string what;
};

// "TcpExt.ListenOverflows" -> value. Signed: /proc/net/snmp has Tcp MaxConn = -1.
using counter_table = std::map<std::string, std::int64_t, std::less<>>;

// Accepts the "Prefix: name name ...\nPrefix: value value ...\n" line pairs of
// /proc/net/netstat and /proc/net/snmp (any number of pairs, in any order; a missing final
// newline is fine). Rejects a header without its value line, a prefix that differs between
// the two lines, a count mismatch, or a value that is not a decimal integer.
std::variant<counter_table, parse_error> parse_proc_net_counters(std::string_view text);

// The contents of one /proc/sys file, whitespace folded ("32768\t60999\n" -> "32768 60999").
sysctl_value parse_sysctl_text(std::string_view text);

// net.ipv4.ip_local_port_range as {low, high}; nullopt unless two integers low <= high.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_port_range(const sysctl_value& v);

// "net.ipv4.tcp_tw_reuse" -> "/proc/sys/net/ipv4/tcp_tw_reuse".
std::string sysctl_path(std::string_view dotted_name);

} // namespace hoplens::diag
