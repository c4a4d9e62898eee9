#include "proxy/relay_support.hpp"

#include "proxy/services.hpp"
#include "proxy/tap.hpp"

namespace hoplens::proxy {

namespace {

// The Host of a request in absolute form (RFC 9112 §3.2.2): the URL's authority, its port
// left out where it is the scheme's default, as a client writes it.
std::string host_of(const absolute_target& abs) {
    std::string host = authority_text(abs.authority);
    if (abs.authority.port == (abs.tls ? 443 : 80)) {
        host.resize(host.rfind(':'));
    }
    return host;
}

} // namespace

std::optional<routed> route(const client_leg& client, const message_head& head, std::string& why) {
    if (client.fixed_target) {
        if (auto abs = parse_absolute_form(head.target())) {
            return routed{*client.fixed_target, abs->origin_form, host_of(*abs)};
        }
        return routed{*client.fixed_target, std::string(head.target()), {}};
    }
    if (client.mode == conf::listen_mode::explicit_proxy) {
        auto abs = parse_absolute_form(head.target());
        if (!abs) {
            why = "a proxy request needs an absolute URL (http://host/path), got '" +
                  std::string(head.target()) + "'";
            return std::nullopt;
        }
        return routed{upstream_target{abs->authority, abs->tls}, abs->origin_form, host_of(*abs)};
    }
    auto host = parse_authority(head.find("host"), 80);
    if (!host) {
        why = "missing or malformed Host header";
        return std::nullopt;
    }
    if (auto abs = parse_absolute_form(head.target())) {
        return routed{upstream_target{abs->authority, false}, abs->origin_form, host_of(*abs)};
    }
    return routed{upstream_target{*host, false}, std::string(head.target()), {}};
}

tapped_relay::~tapped_relay() {
    if (opened_) {
        svc_.capture.closed(client_.id, std::chrono::system_clock::now(), aborted_);
    }
}

void tapped_relay::attach(const upstream_connection& up, const upstream_target& target) {
    if (!svc_.capture.enabled()) {
        return;
    }
    const auto now = std::chrono::system_clock::now();
    open_once(target, now);
    const auto& t = up.timings;
    svc_.capture.upstream_attached(client_.id, up.remote.address().to_string(), up.remote.port(),
                                   t.dns_us, t.connect_us, t.ssl_us, now);
}

void tapped_relay::unsent(const upstream_target& target, std::string_view request_head) {
    if (!svc_.capture.enabled()) {
        return;
    }
    const auto now = std::chrono::system_clock::now();
    open_once(target, now);
    svc_.capture.upstream_attached(client_.id, {}, 0, -1, -1, -1, now);
    svc_.capture.chunk(client_.id, flow::client_to_server, now, request_head);
}

void tapped_relay::open_once(const upstream_target& target,
                             std::chrono::system_clock::time_point at) {
    if (opened_) {
        return;
    }
    opened_ = true;
    const auto name =
        client_.fixed_target ? client_.fixed_target->authority.host : target.authority.host;
    svc_.capture.opened(tapped_connection{client_.id, client_.peer.address().to_string(),
                                          client_.peer.port(), name, target.tls},
                        at);
}

std::string peer_text(const tcp::endpoint& ep) {
    return authority_text(host_port{ep.address().to_string(), ep.port()});
}

upstream_failure no_response(head_outcome outcome, const std::string& target,
                             const http1_parser& response, const conf::run_options& opt,
                             const std::string& body_refused) {
    upstream_failure failure{502, "upstream " + target};
    switch (outcome) {
    case head_outcome::timeout:
        failure.status = 504;
        failure.reason += " sent no response within " +
                          std::to_string(opt.timeout.upstream_response.count()) + " ms";
        break;
    case head_outcome::bad:
        failure.reason += " sent a malformed response: ";
        failure.reason += response.error_reason();
        break;
    case head_outcome::too_large:
        failure.reason += " sent a response head larger than " +
                          std::to_string(opt.max_header_bytes) + " bytes";
        break;
    default:
        failure.reason += body_refused.empty() ? " closed the connection without a response"
                                               : " " + body_refused;
    }
    return failure;
}

} // namespace hoplens::proxy
