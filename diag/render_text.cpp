// `hoplens diag`: the seed's five commands (netstat -s | grep -i listen, ss -lnt,
// ss -ant | uniq -c, the sysctl reads, netstat -s | grep timestamp) as one screen.
#include "diag/render.hpp"

#include <iomanip>
#include <sstream>

namespace hoplens::diag {
namespace {

template <typename T>
std::string or_dash(const std::optional<T>& value) {
    return value ? std::to_string(*value) : "-";
}

} // namespace

std::string render_text(const snapshot& snap, const std::vector<advice>& advice) {
    std::ostringstream out;
    out << "Listening sockets (accept queue now / limit = min(backlog, somaxconn))\n";
    out << std::left << std::setw(28) << "  address" << std::right << std::setw(8) << "queue"
        << std::setw(8) << "limit" << std::setw(10) << "drops" << std::setw(11) << "TIME_WAIT"
        << "  listener\n";
    for (const auto& l : snap.listeners) {
        out << "  " << std::left << std::setw(26) << l.address << std::right << std::setw(8)
            << l.accept_queue_current << std::setw(8) << l.accept_queue_max << std::setw(10)
            << or_dash(l.drops) << std::setw(11) << l.time_wait << "  "
            << (l.mode.empty() ? "" : l.mode) << '\n';
    }
    if (snap.listeners.empty()) {
        out << "  (none)\n";
    }
    const auto& k = snap.kernel;
    out << "\nTcpExt counters (total, " << snap.window << ")\n";
    const std::pair<const char*, const counter_pair*> rows[] = {
        {"ListenOverflows (accept queue full)", &k.listen_overflows},
        {"ListenDrops (all drops at listeners)", &k.listen_drops},
        {"TCPReqQFullDrop (SYN queue full)", &k.syn_queue_full_drops},
        {"TCPReqQFullDoCookies", &k.syn_queue_full_cookies},
        {"SyncookiesSent", &k.syncookies_sent},
        {"PAWSEstab (timestamp rejects)", &k.paws_estab_rejects},
        {"TCPTimeWaitOverflow", &k.tw_bucket_overflows},
    };
    for (const auto& [name, pair] : rows) {
        out << "  " << std::left << std::setw(40) << name << std::right << std::setw(12)
            << pair->value << std::setw(10) << std::showpos << static_cast<std::int64_t>(pair->since_start)
            << std::noshowpos << '\n';
    }
    const auto& tw = snap.time_wait;
    out << "\nTIME_WAIT: " << tw.host << " on the host (max " << or_dash(tw.max_tw_buckets)
        << "), " << tw.own_inbound << " on the listed ports\n";
    out << "\nTCP states:";
    for (const auto& [state, count] : snap.tcp_states) {
        out << "  " << state << ' ' << count;
    }
    out << "\n\nsysctl\n";
    for (const auto& [name, value] : snap.sysctl) {
        out << "  " << std::left << std::setw(34) << name << ' '
            << value.text.value_or("(absent on this kernel)") << '\n';
    }
    out << "\nAdvice\n";
    if (advice.empty()) {
        out << "  nothing to report\n";
    }
    for (const auto& a : advice) {
        out << "  [" << to_string(a.level) << "] " << a.id << ": " << a.message << '\n';
    }
    return out.str();
}

} // namespace hoplens::diag
