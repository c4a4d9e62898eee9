// Prometheus text exposition format 0.0.4: one HELP and TYPE per family, counters end in
// _total, label values escaped (\\, \", \n).
#include "diag/counter_values.hpp"
#include "diag/render.hpp"

#include <sstream>

namespace hoplens::diag {
namespace {

std::string escape_label(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

class family_writer {
public:
    explicit family_writer(std::ostringstream& out) : out_(out) {}

    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ << "# HELP hoplens_" << name << ' ' << help << "\n# TYPE hoplens_" << name << ' '
             << type << '\n';
        name_ = name;
    }
    // labels: already formatted `a="x",b="y"`, or empty.
    void sample(std::uint64_t value, const std::string& labels = {}) {
        out_ << "hoplens_" << name_;
        if (!labels.empty()) {
            out_ << '{' << labels << '}';
        }
        out_ << ' ' << value << '\n';
    }

private:
    std::ostringstream& out_;
    std::string name_;
};

std::string label(std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + escape_label(value) + '"';
}

// Listener labels: the --listen spec, plus the socket's ordinal for SO_REUSEPORT groups.
std::vector<std::string> listener_labels(const snapshot& snap) {
    std::vector<std::string> labels;
    std::map<std::string, int> seen;
    for (const auto& l : snap.listeners) {
        const auto name = l.mode.empty() ? l.address : l.mode + "@" + l.address;
        labels.push_back(label("listener", name) + "," +
                         label("socket", std::to_string(seen[name]++)));
    }
    return labels;
}

void listener_families(const snapshot& snap, family_writer& w) {
    const auto labels = listener_labels(snap);
    const auto each = [&](auto&& value) {
        for (std::size_t i = 0; i < snap.listeners.size(); ++i) {
            if (const auto v = value(snap.listeners[i])) {
                w.sample(*v, labels[i]);
            }
        }
    };
    using opt = std::optional<std::uint64_t>;
    w.family("listener_accept_queue", "gauge", "Connections in the accept queue now (ss Recv-Q).");
    each([](const listener_report& l) { return opt(l.accept_queue_current); });
    w.family("listener_accept_queue_max", "gauge",
             "Accept queue limit, min(backlog, net.core.somaxconn) (ss Send-Q).");
    each([](const listener_report& l) { return opt(l.accept_queue_max); });
    w.family("listener_backlog_requested", "gauge", "Backlog passed to listen().");
    each([](const listener_report& l) {
        return l.backlog_requested ? opt(static_cast<std::uint64_t>(*l.backlog_requested)) : opt();
    });
    w.family("listener_drops_total", "counter", "Handshakes this listening socket dropped.");
    each([](const listener_report& l) { return l.drops ? opt(*l.drops) : opt(); });
    w.family("listener_time_wait_sockets", "gauge", "TIME_WAIT sockets on this listener's port.");
    each([](const listener_report& l) { return opt(l.time_wait); });
}

void kernel_families(const snapshot& snap, family_writer& w) {
    const auto& k = snap.kernel;
    const std::pair<const char*, const counter_pair*> items[] = {
        {"listen_overflows", &k.listen_overflows},
        {"listen_drops", &k.listen_drops},
        {"syn_queue_full_drops", &k.syn_queue_full_drops},
        {"syn_queue_full_cookies", &k.syn_queue_full_cookies},
        {"syncookies_sent", &k.syncookies_sent},
        {"paws_estab_rejects", &k.paws_estab_rejects},
        {"tw_bucket_overflows", &k.tw_bucket_overflows},
    };
    for (const auto& [name, pair] : items) {
        w.family(std::string("kernel_") + name + "_total", "counter",
                 "TcpExt counter of this network namespace (/proc/net/netstat).");
        w.sample(pair->value);
    }
}

void time_wait_families(const snapshot& snap, family_writer& w) {
    const auto& tw = snap.time_wait;
    w.family("time_wait_sockets", "gauge",
             "TIME_WAIT sockets: own_inbound (our listening ports), own_outbound (toward our "
             "upstreams), host (the whole network namespace).");
    w.sample(tw.own_inbound, label("scope", "own_inbound"));
    w.sample(tw.own_outbound, label("scope", "own_outbound"));
    w.sample(tw.host, label("scope", "host"));
    if (tw.max_tw_buckets) {
        w.family("time_wait_max_buckets", "gauge", "net.ipv4.tcp_max_tw_buckets.");
        w.sample(*tw.max_tw_buckets);
    }
    w.family("tcp_sockets", "gauge", "TCP sockets by state, named as ss -ant names them.");
    for (const auto& [state, count] : snap.tcp_states) {
        w.sample(count, label("state", state));
    }
}

void other_families(const snapshot& snap, const std::vector<advice>& advice, family_writer& w) {
    w.family("sysctl", "gauge", "Integer-valued sysctls that the advice rules read.");
    for (const auto& [name, value] : snap.sysctl) {
        if (const auto v = value.as_int(); v && *v >= 0) {
            w.sample(static_cast<std::uint64_t>(*v), label("name", name));
        }
    }
    w.family("advice", "gauge", "Advice items now, by rule id and level (see /diag).");
    std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
    for (const auto& a : advice) {
        ++counts[{a.id, std::string(to_string(a.level))}];
    }
    for (const auto& [key, count] : counts) {
        w.sample(count, label("id", key.first) + "," + label("level", key.second));
    }
    if (!snap.proxy) {
        return;
    }
    for (const auto& [name, value] : *snap.proxy) {
        w.family(name, is_gauge(name) ? "gauge" : "counter", "hoplens proxy counter " + name + ".");
        w.sample(value);
    }
    w.family("insecure_upstream", "gauge", "1 when --insecure-upstream is on.");
    w.sample(snap.insecure_upstream ? 1 : 0);
}

} // namespace

std::string render_metrics(const snapshot& snap, const std::vector<advice>& advice) {
    std::ostringstream out;
    family_writer w(out);
    listener_families(snap, w);
    kernel_families(snap, w);
    time_wait_families(snap, w);
    other_families(snap, advice, w);
    return out.str();
}

} // namespace hoplens::diag
