#include "diag/render.hpp"

#include <boost/json.hpp>

namespace hoplens::diag {
namespace {

namespace json = boost::json;

json::object listener_json(const listener_report& l) {
    json::object o;
    o["mode"] = l.mode;
    o["address"] = l.address;
    o["backlog_requested"] =
        l.backlog_requested ? json::value(*l.backlog_requested) : json::value(nullptr);
    o["backlog_effective"] = l.backlog_effective;
    o["accept_queue"] = json::object{{"current", l.accept_queue_current},
                                     {"max", l.accept_queue_max}};
    o["drops"] = l.drops ? json::value(*l.drops) : json::value(nullptr);
    return o;
}

void put_pair(json::object& o, const char* key, const counter_pair& p) {
    o[key] = p.value;
    o[std::string(key) + "_since_start"] = p.since_start;
}

json::object kernel_json(const kernel_counters& k) {
    json::object o;
    put_pair(o, "listen_overflows", k.listen_overflows);
    put_pair(o, "listen_drops", k.listen_drops);
    put_pair(o, "syn_queue_full_drops", k.syn_queue_full_drops);
    put_pair(o, "syncookies_sent", k.syncookies_sent);
    put_pair(o, "paws_estab_rejects", k.paws_estab_rejects);
    put_pair(o, "tw_bucket_overflows", k.tw_bucket_overflows);
    return o;
}

json::value sysctl_json(const sysctl_value& v) {
    if (!v.text) {
        return nullptr;
    }
    if (const auto n = v.as_int()) {
        return *n;
    }
    return json::string(*v.text);
}

// DESIGN.md's six `proxy` keys; the other counters are in /metrics.
json::object proxy_json(const proxy_numbers& numbers) {
    static constexpr const char* keys[] = {"connections_active",    "connections_total",
                                           "requests_total",        "upstream_errors_total",
                                           "certs_minted_total",    "capture_dropped_total"};
    json::object o;
    for (const char* key : keys) {
        o[key] = 0;
    }
    for (const auto& [name, value] : numbers) {
        if (o.contains(name)) {
            o[name] = value;
        }
    }
    return o;
}

} // namespace

std::string render_json(const snapshot& snap, const std::vector<advice>& advice) {
    json::object root;
    json::array listeners;
    for (const auto& l : snap.listeners) {
        listeners.push_back(listener_json(l));
    }
    root["listeners"] = std::move(listeners);
    root["kernel"] = kernel_json(snap.kernel);
    const auto& tw = snap.time_wait;
    root["time_wait"] = json::object{
        {"own", tw.own()},
        {"own_inbound", tw.own_inbound},
        {"own_outbound", tw.own_outbound},
        {"host", tw.host},
        {"max_tw_buckets", tw.max_tw_buckets ? json::value(*tw.max_tw_buckets) : nullptr}};
    json::object states;
    for (const auto& [name, count] : snap.tcp_states) {
        states[name] = count;
    }
    root["tcp_states"] = std::move(states);
    json::object sysctl;
    for (const auto& [name, value] : snap.sysctl) {
        sysctl[name] = sysctl_json(value);
    }
    root["sysctl"] = std::move(sysctl);
    json::array items;
    for (const auto& a : advice) {
        items.push_back(json::object{
            {"id", a.id}, {"level", std::string(to_string(a.level))}, {"message", a.message}});
    }
    root["advice"] = std::move(items);
    root["proxy"] = snap.proxy ? json::value(proxy_json(*snap.proxy)) : json::value(nullptr);
    return json::serialize(root) + "\n";
}

} // namespace hoplens::diag
