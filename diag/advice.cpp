#include "diag/advice.hpp"

#include "diag/proc_parse.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

namespace hoplens::diag {
namespace {

template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

std::optional<std::int64_t> sysctl_int(const snapshot& s, const std::string& name) {
    const auto it = s.sysctl.find(name);
    return it == s.sysctl.end() ? std::nullopt : it->second.as_int();
}

std::string sysctl_text(const snapshot& s, const std::string& name) {
    const auto it = s.sysctl.find(name);
    return it == s.sysctl.end() || !it->second.text ? "absent" : *it->second.text;
}

std::string name_of(const listener_report& l) {
    return l.mode.empty() ? l.address : l.mode + "@" + l.address;
}

// 2, the kernel's default, reuses TIME_WAIT ports for loopback connections only:
// say so, or "now 2" reads as "already on".
std::string tw_reuse_text(const snapshot& s) {
    const auto text = sysctl_text(s, "net.ipv4.tcp_tw_reuse");
    return text == "2" ? "2: loopback only" : text;
}

using rule = std::function<void(const snapshot&, std::vector<advice>&)>;

// The accept queue's limit is min(backlog, net.core.somaxconn), read once at listen().
void somaxconn_clamps(const snapshot& s, std::vector<advice>& out) {
    const auto somaxconn = sysctl_int(s, "net.core.somaxconn");
    for (const auto& l : s.listeners) {
        if (l.backlog_requested && *l.backlog_requested > l.backlog_effective) {
            // somaxconn is read at listen(): raised since then, only a restart applies it.
            const bool raised_since = somaxconn && *somaxconn >= *l.backlog_requested;
            out.push_back({std::string(advice_id::somaxconn_clamps_backlog), advice_level::warning,
                           cat(name_of(l), ": --backlog ", *l.backlog_requested,
                               " is clamped to ", l.backlog_effective,
                               " by net.core.somaxconn (now ", somaxconn.value_or(-1), "). Fix: ",
                               raised_since ? "restart hoplens to apply the raised limit"
                                            : "sysctl -w net.core.somaxconn=" +
                                                  std::to_string(*l.backlog_requested) +
                                                  " and restart hoplens",
                               " (the limit is taken at listen()).")});
        }
    }
}

void accept_queue_full(const snapshot& s, std::vector<advice>& out) {
    for (const auto& l : s.listeners) {
        if (l.accept_queue_max > 0 && l.accept_queue_current * 5 > l.accept_queue_max * 4) {
            out.push_back({std::string(advice_id::accept_queue_full), advice_level::critical,
                           cat(name_of(l), ": accept queue holds ", l.accept_queue_current,
                               " of ", l.accept_queue_max,
                               " now (over 80%): connections are not being accepted fast "
                               "enough. Fix: more --threads, or a larger --backlog together "
                               "with net.core.somaxconn.")});
        }
    }
}

// Each retransmitted final ACK of a client that found the queue full counts again, so the
// number is "events", not "clients".
void listen_overflows(const snapshot& s, std::vector<advice>& out) {
    const auto& k = s.kernel;
    if (k.listen_overflows.since_start == 0) {
        return;
    }
    out.push_back({std::string(advice_id::listen_overflows_rising), advice_level::critical,
                   cat("TcpExtListenOverflows rose by ", k.listen_overflows.since_start, " ",
                       s.window, " (total ", k.listen_overflows.value,
                       "): an accept queue overflowed and handshakes were dropped. "
                       "ListenDrops (+", k.listen_drops.since_start,
                       ") includes these. Fix: more --threads, a larger --backlog and "
                       "net.core.somaxconn (now ", sysctl_text(s, "net.core.somaxconn"), ").")});
}

// The seed reads "SYNs to LISTEN sockets dropped" (ListenDrops) as SYN-queue overflow; the
// kernel counts a full SYN queue as TCPReqQFullDrop (no cookies) or TCPReqQFullDoCookies.
void syn_queue(const snapshot& s, std::vector<advice>& out) {
    const auto& k = s.kernel;
    const auto total = k.syn_queue_full_drops.since_start + k.syn_queue_full_cookies.since_start +
                       k.syncookies_sent.since_start;
    if (total == 0) {
        return;
    }
    out.push_back({std::string(advice_id::syn_queue_overflow),
                   k.syn_queue_full_drops.since_start > 0 ? advice_level::critical
                                                          : advice_level::warning,
                   cat("SYN queue full ", s.window, ": TCPReqQFullDrop +",
                       k.syn_queue_full_drops.since_start, ", TCPReqQFullDoCookies +",
                       k.syn_queue_full_cookies.since_start, ", SyncookiesSent +",
                       k.syncookies_sent.since_start,
                       ". Fix: sysctl -w net.ipv4.tcp_max_syn_backlog=",
                       std::max<std::int64_t>(
                           2 * sysctl_int(s, "net.ipv4.tcp_max_syn_backlog").value_or(1024), 1024),
                       " (now ", sysctl_text(s, "net.ipv4.tcp_max_syn_backlog"),
                       ") and a larger --backlog; keep net.ipv4.tcp_syncookies=1 (now ",
                       sysctl_text(s, "net.ipv4.tcp_syncookies"), ").")});
}

void abort_on_overflow(const snapshot& s, std::vector<advice>& out) {
    if (sysctl_int(s, "net.ipv4.tcp_abort_on_overflow").value_or(0) != 1) {
        return;
    }
    out.push_back({std::string(advice_id::abort_on_overflow), advice_level::warning,
                   "net.ipv4.tcp_abort_on_overflow = 1: when an accept queue is full, clients "
                   "get a RST instead of retrying their final ACK, so a short burst becomes "
                   "failed connections. Fix: sysctl -w net.ipv4.tcp_abort_on_overflow=0."});
}

// tcp_tw_reuse lets connect() take a port still in TIME_WAIT when timestamps prove that old
// segments cannot be confused with new ones; it only helps the side that connects (outbound).
void outbound_time_wait(const snapshot& s, std::vector<advice>& out) {
    const auto range = s.sysctl.contains("net.ipv4.ip_local_port_range")
                           ? parse_port_range(s.sysctl.at("net.ipv4.ip_local_port_range"))
                           : std::nullopt;
    if (!range) {
        return;
    }
    const auto ports = static_cast<std::uint64_t>(range->second - range->first + 1);
    if (s.time_wait.own_outbound * 2 < ports) {
        return;
    }
    out.push_back({std::string(advice_id::outbound_time_wait_high), advice_level::warning,
                   cat(s.time_wait.own_outbound,
                       " TIME_WAIT sockets toward upstreams against ", ports,
                       " local ports (net.ipv4.ip_local_port_range = ",
                       sysctl_text(s, "net.ipv4.ip_local_port_range"),
                       "): new upstream connections will run out of ports. Fix: keep upstream "
                       "connections pooled (hoplens does; check for upstreams answering "
                       "Connection: close); sysctl -w net.ipv4.tcp_tw_reuse=1 (now ",
                       tw_reuse_text(s),
                       ") is safe for outgoing connections with net.ipv4.tcp_timestamps=1 (now ",
                       sysctl_text(s, "net.ipv4.tcp_timestamps"), ").")});
}

// Past tcp_max_tw_buckets the kernel kills new TIME_WAIT sockets at once
// ("TCP: time wait bucket table overflow"), losing the protection TIME_WAIT exists for.
void time_wait_near_max(const snapshot& s, std::vector<advice>& out) {
    const auto max = s.time_wait.max_tw_buckets;
    const auto overflows = s.kernel.tw_bucket_overflows.since_start;
    if (!max || (s.time_wait.host * 5 < *max * 4 && overflows == 0)) {
        return;
    }
    out.push_back({std::string(advice_id::time_wait_near_max),
                   overflows > 0 ? advice_level::critical : advice_level::warning,
                   cat(s.time_wait.host, " TIME_WAIT sockets of net.ipv4.tcp_max_tw_buckets = ",
                       *max, "; TCPTimeWaitOverflow +", overflows, " ", s.window,
                       ". Fix: sysctl -w net.ipv4.tcp_max_tw_buckets=", *max * 2,
                       " (memory is cheap; killing TIME_WAIT early is not).")});
}

// tcp_tw_recycle dropped SYNs whose timestamps went backwards per source IP, which breaks
// clients behind NAT; Linux 4.12 removed it.
void tw_recycle(const snapshot& s, std::vector<advice>& out) {
    const auto it = s.sysctl.find("net.ipv4.tcp_tw_recycle");
    if (it == s.sysctl.end() || !it->second.text) {
        out.push_back({std::string(advice_id::tw_recycle_absent), advice_level::info,
                       "net.ipv4.tcp_tw_recycle is absent: Linux 4.12 removed it, so old advice "
                       "to turn it on (or off) does not apply to this kernel."});
        return;
    }
    if (it->second.as_int().value_or(0) != 0) {
        out.push_back({std::string(advice_id::tw_recycle_enabled), advice_level::critical,
                       cat("net.ipv4.tcp_tw_recycle = ", *it->second.text,
                           ": drops connections from clients behind NAT whose timestamps are "
                           "not increasing. Fix: sysctl -w net.ipv4.tcp_tw_recycle=0.")});
    }
}

void timestamps_off(const snapshot& s, std::vector<advice>& out) {
    const auto timestamps = sysctl_int(s, "net.ipv4.tcp_timestamps");
    const auto reuse = sysctl_int(s, "net.ipv4.tcp_tw_reuse").value_or(0);
    if (!timestamps || *timestamps != 0 || (reuse == 0 && s.time_wait.own_outbound == 0)) {
        return;
    }
    out.push_back({std::string(advice_id::timestamps_off), advice_level::warning,
                   cat("net.ipv4.tcp_timestamps = 0 while net.ipv4.tcp_tw_reuse = ", reuse,
                       " and ", s.time_wait.own_outbound,
                       " outbound TIME_WAIT sockets: TIME_WAIT reuse needs timestamps, so it "
                       "does nothing. Fix: sysctl -w net.ipv4.tcp_timestamps=1.")});
}

void paws_rejects(const snapshot& s, std::vector<advice>& out) {
    const auto& paws = s.kernel.paws_estab_rejects;
    if (paws.since_start == 0) {
        return;
    }
    out.push_back({std::string(advice_id::paws_rejects_rising), advice_level::warning,
                   cat("TcpExtPAWSEstab rose by ", paws.since_start, " ", s.window, " (total ",
                       paws.value,
                       "): packets in established connections were rejected because of their "
                       "timestamp. Look for a middlebox or NAT rewriting timestamps; keep "
                       "net.ipv4.tcp_timestamps=1 (now ",
                       sysctl_text(s, "net.ipv4.tcp_timestamps"), ") on both ends.")});
}

void listener_not_found(const snapshot& s, std::vector<advice>& out) {
    for (const auto& l : s.listeners) {
        if (!l.found) {
            out.push_back({std::string(advice_id::listener_not_found), advice_level::warning,
                           cat(name_of(l), ": not in the kernel's socket table of this network "
                                           "namespace, so its queue cannot be shown.")});
        }
    }
}

void insecure_upstream(const snapshot& s, std::vector<advice>& out) {
    if (s.insecure_upstream) {
        out.push_back({std::string(advice_id::insecure_upstream), advice_level::warning,
                       "--insecure-upstream is on: upstream certificates are not verified, so "
                       "anyone on the path to an upstream can read and change the traffic. Fix: "
                       "remove it and pass --upstream-ca FILE for private CAs."});
    }
}

} // namespace

std::string_view to_string(advice_level level) {
    switch (level) {
    case advice_level::info:
        return "info";
    case advice_level::warning:
        return "warning";
    case advice_level::critical:
        return "critical";
    }
    return "info";
}

std::vector<advice> advise(const snapshot& snap) {
    static const std::vector<rule> rules = {
        somaxconn_clamps, accept_queue_full, listen_overflows, syn_queue,
        abort_on_overflow, outbound_time_wait, time_wait_near_max, tw_recycle,
        timestamps_off, paws_rejects, listener_not_found, insecure_upstream};
    std::vector<advice> out;
    for (const auto& r : rules) {
        r(snap, out);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const advice& a, const advice& b) { return a.level > b.level; });
    return out;
}

} // namespace hoplens::diag
