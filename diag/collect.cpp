#include "diag/collect.hpp"

#include <algorithm>

namespace hoplens::diag {
namespace {

std::uint64_t counter_or_zero(const counter_table& table, std::string_view name) {
    const auto it = table.find(name);
    return it == table.end() || it->second < 0 ? 0 : static_cast<std::uint64_t>(it->second);
}

// A counter that went backwards (a namespace recreated, a 32-bit wrap) restarts from zero.
counter_pair pair_of(const counter_table& now, const counter_table& baseline,
                     std::string_view name) {
    const auto value = counter_or_zero(now, name);
    const auto base = counter_or_zero(baseline, name);
    return {value, value >= base ? value - base : value};
}

kernel_counters kernel_of(const counter_table& now, const counter_table& baseline) {
    kernel_counters k;
    k.listen_overflows = pair_of(now, baseline, "TcpExt.ListenOverflows");
    k.listen_drops = pair_of(now, baseline, "TcpExt.ListenDrops");
    k.syn_queue_full_drops = pair_of(now, baseline, "TcpExt.TCPReqQFullDrop");
    k.syn_queue_full_cookies = pair_of(now, baseline, "TcpExt.TCPReqQFullDoCookies");
    k.syncookies_sent = pair_of(now, baseline, "TcpExt.SyncookiesSent");
    k.paws_estab_rejects = pair_of(now, baseline, "TcpExt.PAWSEstab");
    k.tw_bucket_overflows = pair_of(now, baseline, "TcpExt.TCPTimeWaitOverflow");
    k.time_wait_entered = pair_of(now, baseline, "TcpExt.TW");
    return k;
}

listener_report report_from_socket(const socket_record& s) {
    listener_report r;
    r.address = to_string(s.local);
    r.port = s.local.port;
    r.backlog_effective = static_cast<int>(s.wqueue);
    r.accept_queue_current = s.rqueue;
    r.accept_queue_max = s.wqueue;
    r.drops = s.drops;
    r.found = true;
    return r;
}

const socket_record* find_listener(const std::vector<socket_record>& sockets,
                                   const registered_listener& ours) {
    const auto is_it = [&](const socket_record& s) {
        if (s.state != tcp_state_listen) {
            return false;
        }
        return ours.inode != 0 ? s.inode == ours.inode : ours.local && s.local == *ours.local;
    };
    const auto it = std::find_if(sockets.begin(), sockets.end(), is_it);
    return it == sockets.end() ? nullptr : &*it;
}

listener_report report_for_ours(const kernel_reading& now, const registered_listener& ours) {
    listener_report r;
    if (const auto* s = find_listener(now.sockets, ours)) {
        r = report_from_socket(*s);
    } else {
        // Not in the dump (closed, or another namespace): what listen() would have given.
        const auto somaxconn = now.sysctl.contains("net.core.somaxconn")
                                   ? now.sysctl.at("net.core.somaxconn").as_int()
                                   : std::nullopt;
        r.backlog_effective = somaxconn ? static_cast<int>(std::min<std::int64_t>(
                                              ours.info.backlog_requested, *somaxconn))
                                        : ours.info.backlog_requested;
        r.port = ours.local ? ours.local->port : 0;
    }
    r.mode = ours.info.mode;
    r.address = ours.info.address;
    r.backlog_requested = ours.info.backlog_requested;
    return r;
}

std::vector<listener_report> listeners_of(const kernel_reading& now, const report_scope& scope) {
    std::vector<listener_report> out;
    if (scope.ours) {
        for (const auto& ours : *scope.ours) {
            out.push_back(report_for_ours(now, ours));
        }
        return out;
    }
    for (const auto& s : now.sockets) {
        const bool wanted = scope.ports.empty() || std::find(scope.ports.begin(), scope.ports.end(),
                                                             s.local.port) != scope.ports.end();
        if (s.state == tcp_state_listen && wanted) {
            out.push_back(report_from_socket(s));
        }
    }
    return out;
}

} // namespace

snapshot build_snapshot(const kernel_reading& now, const counter_table& baseline,
                        const report_scope& scope) {
    snapshot snap;
    snap.kernel = kernel_of(now.counters, baseline);
    snap.sysctl = now.sysctl;
    snap.listeners = listeners_of(now, scope);
    std::set<std::uint16_t> listener_ports;
    for (const auto& l : snap.listeners) {
        listener_ports.insert(l.port);
    }
    std::map<std::uint16_t, std::uint64_t> time_wait_by_port;
    for (const auto& s : now.sockets) {
        ++snap.tcp_states[std::string(tcp_state_name(s.state))];
        if (s.state != tcp_state_time_wait) {
            continue;
        }
        ++snap.time_wait.host;
        ++time_wait_by_port[s.local.port];
        if (listener_ports.contains(s.local.port)) {
            ++snap.time_wait.own_inbound;
        } else if (scope.upstreams.contains(s.remote)) {
            ++snap.time_wait.own_outbound;
        }
    }
    for (auto& l : snap.listeners) {
        l.time_wait = time_wait_by_port[l.port];
    }
    if (const auto it = now.sysctl.find("net.ipv4.tcp_max_tw_buckets"); it != now.sysctl.end()) {
        if (const auto v = it->second.as_int(); v && *v >= 0) {
            snap.time_wait.max_tw_buckets = static_cast<std::uint64_t>(*v);
        }
    }
    return snap;
}

} // namespace hoplens::diag
