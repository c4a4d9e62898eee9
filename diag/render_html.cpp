// The human page: the /diag numbers as tables, advice first, no external assets (it must work
// on an air-gapped jump host), reloading itself with a meta refresh (no script needed).
#include "diag/render.hpp"

#include <sstream>

namespace hoplens::diag {
namespace {

std::string escape_html(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

template <typename T>
std::string cell(const T& value) {
    std::ostringstream out;
    out << value;
    return "<td>" + escape_html(out.str()) + "</td>";
}

template <typename T>
std::string cell(const std::optional<T>& value) {
    return value ? cell(*value) : std::string("<td>-</td>");
}

void advice_section(std::ostringstream& out, const std::vector<advice>& advice) {
    out << "<h2>Advice</h2>";
    if (advice.empty()) {
        out << "<p>Nothing to report.</p>";
    }
    out << "<ul id=\"advice\">";
    for (const auto& a : advice) {
        out << "<li class=\"" << to_string(a.level) << "\"><b>" << to_string(a.level) << "</b> <code>"
            << escape_html(a.id) << "</code>: " << escape_html(a.message) << "</li>";
    }
    out << "</ul>";
}

void listener_section(std::ostringstream& out, const snapshot& snap) {
    out << "<h2>Listeners</h2><table id=\"listeners\"><tr><th>mode</th><th>address</th>"
           "<th>backlog requested</th><th>backlog effective</th><th>accept queue now</th>"
           "<th>accept queue max</th><th>drops</th><th>TIME_WAIT on port</th></tr>";
    for (const auto& l : snap.listeners) {
        out << "<tr>" << cell(l.mode) << cell(l.address) << cell(l.backlog_requested)
            << cell(l.backlog_effective) << cell(l.accept_queue_current)
            << cell(l.accept_queue_max) << cell(l.drops) << cell(l.time_wait) << "</tr>";
    }
    out << "</table>";
}

void counters_section(std::ostringstream& out, const snapshot& snap) {
    const auto& k = snap.kernel;
    const std::pair<const char*, const counter_pair*> rows[] = {
        {"ListenOverflows", &k.listen_overflows},
        {"ListenDrops", &k.listen_drops},
        {"TCPReqQFullDrop", &k.syn_queue_full_drops},
        {"TCPReqQFullDoCookies", &k.syn_queue_full_cookies},
        {"SyncookiesSent", &k.syncookies_sent},
        {"PAWSEstab", &k.paws_estab_rejects},
        {"TCPTimeWaitOverflow", &k.tw_bucket_overflows},
    };
    out << "<h2>Kernel (TcpExt)</h2><table id=\"kernel\"><tr><th>counter</th><th>total</th><th>"
        << escape_html(snap.window) << "</th></tr>";
    for (const auto& [name, pair] : rows) {
        out << "<tr>" << cell(name) << cell(pair->value) << cell(pair->since_start) << "</tr>";
    }
    const auto& tw = snap.time_wait;
    out << "</table><h2>TIME_WAIT</h2><table id=\"time_wait\"><tr><th>own inbound</th>"
           "<th>own outbound</th><th>host</th><th>max buckets</th></tr><tr>"
        << cell(tw.own_inbound) << cell(tw.own_outbound) << cell(tw.host)
        << cell(tw.max_tw_buckets) << "</tr></table>";
}

void state_and_sysctl_section(std::ostringstream& out, const snapshot& snap) {
    out << "<h2>TCP states</h2><table id=\"tcp_states\">";
    for (const auto& [state, count] : snap.tcp_states) {
        out << "<tr>" << cell(state) << cell(count) << "</tr>";
    }
    out << "</table><h2>sysctl</h2><table id=\"sysctl\">";
    for (const auto& [name, value] : snap.sysctl) {
        out << "<tr>" << cell(name) << cell(value.text.value_or("(absent)")) << "</tr>";
    }
    out << "</table>";
    if (snap.proxy) {
        out << "<h2>Proxy</h2><table id=\"proxy\">";
        for (const auto& [name, value] : *snap.proxy) {
            out << "<tr>" << cell(name) << cell(value) << "</tr>";
        }
        out << "</table>";
    }
}

} // namespace

std::string render_html(const snapshot& snap, const std::vector<advice>& advice,
                        int refresh_seconds) {
    std::ostringstream out;
    out << "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
           "<meta http-equiv=\"refresh\" content=\""
        << refresh_seconds
        << "\"><title>hoplens diagnostics</title><style>"
           "body{font:14px sans-serif;margin:1em 2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
           "td:first-child{text-align:left}li{margin:4px 0}.critical b{color:#b00}"
           ".warning b{color:#b60}.info b{color:#06b}"
           "</style></head><body><h1>hoplens diagnostics</h1>"
           "<p>Also as <a href=\"/diag\">/diag</a> (JSON) and <a href=\"/metrics\">/metrics</a>. "
           "Refreshes every "
        << refresh_seconds << " s.</p>";
    advice_section(out, advice);
    listener_section(out, snap);
    counters_section(out, snap);
    state_and_sysctl_section(out, snap);
    out << "</body></html>\n";
    return out.str();
}

} // namespace hoplens::diag
