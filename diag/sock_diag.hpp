#pragma once
// sock_diag (NETLINK_SOCK_DIAG, inet_diag) for TCP: the request bytes and a parser for the
// reply bytes, both pure, plus the thin reader that does the netlink I/O
// (sock_diag_read.cpp). This is what `ss -ant` / `ss -lnt` read; we read it directly.
// For a LISTEN socket the kernel reports rqueue = the accept queue now (sk_ack_backlog) and
// wqueue = its limit (sk_max_ack_backlog = min(backlog, somaxconn) at listen() time).

#include "diag/ip_endpoint.hpp"
#include "diag/proc_parse.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace hoplens::diag {

struct socket_record {
    std::uint8_t family = 0; // AF_INET or AF_INET6
    std::uint8_t state = 0;  // TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11 (include/net/tcp_states.h)
    ip_endpoint local;
    ip_endpoint remote;
    std::uint32_t inode = 0; // 0 for TIME_WAIT and request sockets
    std::uint32_t rqueue = 0;
    std::uint32_t wqueue = 0;
    std::optional<std::uint32_t> drops; // SK_MEMINFO_DROPS, when asked for and present
};

inline constexpr std::uint8_t tcp_state_listen = 10;
inline constexpr std::uint8_t tcp_state_time_wait = 6;
inline constexpr std::uint32_t all_tcp_states = 0xffffffffu;

// The dump request for one address family: TCP sockets in `states` (a bit per state),
// with SK_MEMINFO when `want_meminfo` (needed for per-listener drops).
std::vector<std::byte> build_sock_diag_request(std::uint8_t family, std::uint32_t states,
                                               bool want_meminfo, std::uint32_t sequence);

enum class dump_status { need_more, done };

// Accepts a buffer of whole netlink messages as one recv() returns them (a dump arrives as
// several such buffers; feed each in turn). Appends one record per SOCK_DIAG_BY_FAMILY
// message and returns done at NLMSG_DONE. Rejects NLMSG_ERROR (the kernel's errno in the
// message), truncated or misaligned headers, and inet_diag payloads shorter than the struct.
std::variant<dump_status, parse_error> parse_sock_diag_messages(std::span<const std::byte> bytes,
                                                                std::vector<socket_record>& out);

// The name `ss` prints for a TCP state: "ESTAB", "TIME-WAIT", "LISTEN", ... ("UNKNOWN" else).
std::string_view tcp_state_name(std::uint8_t state);

// Reads every TCP socket of this network namespace in `states`, IPv4 and IPv6. Blocking
// netlink I/O with a receive timeout; call it off the proxy's threads.
std::variant<std::vector<socket_record>, parse_error> read_tcp_sockets(std::uint32_t states,
                                                                       bool want_meminfo);

} // namespace hoplens::diag
