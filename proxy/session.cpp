#include "proxy/session.hpp"

#include "proxy/client_hello.hpp"
#include "proxy/http1_serialize.hpp"
#include "proxy/http_relay.hpp"
#include "proxy/services.hpp"
#include "proxy/tap.hpp"
#include "proxy/tunnel.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <openssl/ssl.h>

namespace hoplens::proxy {

namespace {

using namespace net::experimental::awaitable_operators;
using steady = std::chrono::steady_clock;

// An IPv4 peer of a dual-stack listener appears as ::ffff:a.b.c.d; this is a.b.c.d.
net::ip::address unmapped(const net::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    return address;
}

bool allowed(const services& svc, const tcp::endpoint& peer) {
    const auto address = unmapped(peer.address());
    for (const auto& range : svc.options.allow) {
        if (address.is_v4()) {
            const auto bytes = address.to_v4().to_bytes();
            if (conf::cidr_contains(range, bytes.data(), bytes.size())) {
                return true;
            }
        } else {
            const auto bytes = address.to_v6().to_bytes();
            if (conf::cidr_contains(range, bytes.data(), bytes.size())) {
                return true;
            }
        }
    }
    return false;
}

bool is_passthrough(const services& svc, std::string_view host) {
    for (const auto& pattern : svc.options.passthrough) {
        if (conf::glob_match(pattern, host)) {
            return true;
        }
    }
    return false;
}

// The ClientHello read with MSG_PEEK, so that the TLS stack still sees every byte.
// Gives up after the handshake timeout or when the hello is larger than its bound.
net::awaitable<peek_result> peek_hello(tcp::socket& socket, std::chrono::milliseconds timeout) {
    std::vector<std::byte> buf(max_client_hello_wire_bytes);
    const auto deadline = steady::now() + timeout;
    net::steady_timer timer(socket.get_executor());
    for (;;) {
        timer.expires_at(deadline);
        auto outcome = co_await (socket.async_wait(tcp::socket::wait_read, nothrow_awaitable) ||
                                 timer.async_wait(nothrow_awaitable));
        if (outcome.index() == 1 || std::get<0>(std::get<0>(outcome))) {
            co_return need_more{}; // timed out or closed before a whole hello arrived
        }
        error_code ec;
        const auto n = socket.receive(net::buffer(buf), tcp::socket::message_peek, ec);
        if (ec || n == 0) {
            co_return need_more{};
        }
        auto result = peek_client_hello(std::span<const std::byte>(buf.data(), n));
        if (!std::holds_alternative<need_more>(result) || n == buf.size()) {
            co_return result;
        }
        // The rest of the hello is on its way: look again shortly rather than spin.
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(nothrow_awaitable);
    }
}

// --passthrough: the client's TLS goes to the origin untouched, so it sees the origin's own
// certificate and nothing is recorded.
net::awaitable<void> relay_passthrough(services& svc, worker& w, tcp::socket client,
                                       const host_port& target, std::uint64_t id) {
    diag::add(svc.counters.passthrough_connections_total);
    auto got = co_await w.pool.connect_tcp(target);
    if (auto* failure = std::get_if<upstream_failure>(&got)) {
        diag::add(svc.counters.upstream_errors_total);
        spdlog::info("conn {} passthrough: {}", id, failure->reason);
        co_return;
    }
    plain_stream down(std::move(client));
    tunnel_bytes moved;
    co_await tunnel(down, *std::get<upstream_connection>(got).stream, svc.options.timeout.idle,
                    w.tunnels, moved);
}

// The address a client dialled, as a certificate can name it: "" for an IPv6 address with a
// zone, which no certificate carries.
std::string dialled_address(const tcp::socket& socket) {
    boost::system::error_code ec;
    const auto local = socket.local_endpoint(ec);
    if (ec || (local.address().is_v6() && local.address().to_v6().scope_id() != 0)) {
        return {};
    }
    return unmapped(local.address()).to_string();
}

// What a TLS connection's ClientHello decided.
struct tls_route {
    enum class action { close, passthrough, intercept };
    action what = action::close;
    std::string name; // the leaf's name, when intercepting
    // A second name for the leaf: on a reverse listener, a client that sent no SNI dialled an
    // address (RFC 6066 has no SNI for addresses), and it checks the leaf against that.
    std::string also;
    upstream_target target;
};

// Looks at the ClientHello (sni and reverse listeners, CONNECT tunnels) and decides between
// passthrough and interception; a connection that cannot be served is answered, logged and
// counted here.
//
// The names are references to the caller's frame, which awaits this coroutine. (Passing
// brace-initialized temporaries by value here was miscompiled by GCC 12: the parameter copy
// freed a small-string buffer of the caller's. Callers pass named locals.)
net::awaitable<tls_route> route_tls(services& svc, tcp::socket& socket,
                                    const std::optional<std::string>& default_name,
                                    const upstream_target& requested_target, bool target_from_sni,
                                    std::uint64_t id) {
    tls_route route;
    route.target = requested_target;
    const auto hello = co_await peek_hello(socket, svc.options.timeout.tls_handshake);
    if (const auto* bad = std::get_if<not_tls>(&hello)) {
        diag::add(svc.counters.not_tls_total);
        spdlog::info("conn {}: not a TLS ClientHello ({}); closing", id, to_string(bad->reason));
        co_return route;
    }
    if (std::holds_alternative<need_more>(hello)) {
        diag::add(svc.counters.client_timeouts_total);
        spdlog::info("conn {}: no complete ClientHello within the handshake timeout; closing", id);
        co_return route;
    }
    const auto& info = std::get<client_hello_info>(hello);
    if (info.server_name) {
        route.name = *info.server_name;
    } else if (default_name) {
        route.name = *default_name;
        route.also = dialled_address(socket);
    } else {
        // RFC 6066 §3: without a name there is no certificate to present.
        diag::add(svc.counters.tls_no_sni_total);
        spdlog::info("conn {}: ClientHello without server_name; sending unrecognized_name", id);
        static constexpr unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70};
        co_await net::async_write(socket, net::buffer(alert), nothrow_awaitable);
        co_return route;
    }
    if (target_from_sni) {
        route.target.authority.host = route.name;
    }
    const bool passthrough = is_passthrough(svc, route.target.authority.host) ||
                             (info.server_name && is_passthrough(svc, route.name));
    route.what = passthrough ? tls_route::action::passthrough : tls_route::action::intercept;
    co_return route;
}

// The TLS handshake with the client, presenting a leaf for the route's names minted by our
// CA. Returns the client leg ready for the relay to the route's target, or nothing (logged
// and counted).
net::awaitable<std::optional<client_leg>> accept_tls(services& svc, tcp::socket socket,
                                                     const tls_route& route, std::uint64_t id,
                                                     conf::listen_mode mode) {
    const std::string& name = route.name;
    std::string why;
    auto leaf = svc.leaf_for(name, route.also, why);
    if (!leaf) {
        diag::add(svc.counters.tls_handshake_errors_total);
        spdlog::info("conn {}: no certificate for '{}': {}", id, name, why);
        co_return std::nullopt;
    }
    client_leg client;
    client.id = id;
    client.peer = socket.remote_endpoint();
    client.mode = mode;
    client.fixed_target = route.target;
    auto tls = std::make_unique<tls_stream>(std::move(socket), leaf.get());
    tls->expires_after(svc.options.timeout.tls_handshake);
    if (const auto ec = co_await tls->handshake(true)) {
        diag::add(svc.counters.tls_handshake_errors_total);
        spdlog::debug("conn {}: client TLS handshake for '{}' failed: {}", id, name, ec.message());
        co_return std::nullopt;
    }
    client.stream = std::move(tls);
    co_return std::move(client);
}

// A TLS connection served as its ClientHello asks. Routing and the handshake run in
// coroutines of their own that end before the relay starts: a kept-alive connection waiting
// for its next request holds this small frame and the relay's, not theirs.
net::awaitable<void> serve_tls(services& svc, worker& w, tcp::socket socket,
                               const std::optional<std::string>& default_name,
                               const upstream_target& requested_target, bool target_from_sni,
                               std::uint64_t id, conf::listen_mode mode) {
    const tls_route route =
        co_await route_tls(svc, socket, default_name, requested_target, target_from_sni, id);
    switch (route.what) {
    case tls_route::action::close:
        co_return;
    case tls_route::action::passthrough:
        co_await relay_passthrough(svc, w, std::move(socket), route.target.authority, id);
        co_return;
    case tls_route::action::intercept:
        break;
    }
    std::optional<client_leg> client =
        co_await accept_tls(svc, std::move(socket), route, id, mode);
    if (client) {
        co_await relay_http(svc, w, *client);
    }
}

// After `CONNECT authority`: answer 200, then intercept what the client speaks inside.
net::awaitable<void> serve_connect(services& svc, worker& w, client_leg& client,
                                   const std::string& authority) {
    auto target = parse_authority(authority, std::nullopt);
    byte_stream& down = *client.stream;
    if (!target) {
        diag::add(svc.counters.bad_requests_total);
        const auto r = make_error_response(400, "CONNECT needs host:port, got '" + authority + "'");
        co_await down.write_all(net::buffer(r));
        co_return;
    }
    static constexpr std::string_view established = "HTTP/1.1 200 Connection Established\r\n\r\n";
    if (co_await down.write_all(net::buffer(established))) {
        co_return;
    }
    // TLS inside the tunnel starts with a handshake record (0x16); anything else is plain HTTP.
    if (co_await down.wait_readable(svc.options.timeout.tls_handshake)) {
        co_return;
    }
    tcp::socket socket = std::move(down.socket());
    client.stream.reset(); // the tunnel's own stream takes over; free the outer one now
    unsigned char first = 0;
    error_code ec;
    if (socket.receive(net::buffer(&first, 1), tcp::socket::message_peek, ec) == 0 || ec) {
        co_return;
    }
    if (first == 0x16) {
        const std::optional<std::string> name = target->host;
        const upstream_target tls_target{*target, true};
        co_await serve_tls(svc, w, std::move(socket), name, tls_target, false, client.id,
                           conf::listen_mode::explicit_proxy);
        co_return;
    }
    client_leg inner;
    inner.id = client.id;
    inner.peer = client.peer;
    inner.mode = conf::listen_mode::explicit_proxy;
    inner.fixed_target = upstream_target{*target, false};
    inner.stream = std::make_unique<plain_stream>(std::move(socket));
    co_await relay_http(svc, w, inner);
}

struct active_connection {
    explicit active_connection(diag::proxy_counters& c) : counters(c) {
        diag::add(counters.connections_total);
        diag::add(counters.connections_active);
    }
    ~active_connection() {
        counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
    }
    diag::proxy_counters& counters;
};

} // namespace

net::awaitable<void> serve_client(services& svc, worker& w, const conf::listen_spec& listener,
                                  tcp::socket socket) {
    active_connection guard(svc.counters);
    const auto id = svc.next_connection_id.fetch_add(1, std::memory_order_relaxed);
    error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) {
        co_return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const bool http_listener = listener.mode == conf::listen_mode::explicit_proxy ||
                               listener.mode == conf::listen_mode::http;
    if (!allowed(svc, peer)) {
        diag::add(svc.counters.denied_clients_total);
        spdlog::warn("conn {}: {} is not in --allow; refused", id, peer.address().to_string());
        if (http_listener) {
            const auto r = make_error_response(403, "client " + peer.address().to_string() +
                                                        " is not allowed by this proxy");
            co_await net::async_write(socket, net::buffer(r), nothrow_awaitable);
        }
        co_return;
    }
    switch (listener.mode) {
    case conf::listen_mode::explicit_proxy:
    case conf::listen_mode::http: {
        client_leg client;
        client.id = id;
        client.peer = peer;
        client.mode = listener.mode;
        client.stream = std::make_unique<plain_stream>(std::move(socket));
        const auto end = co_await relay_http(svc, w, client);
        if (end.connect_authority) {
            co_await serve_connect(svc, w, client, *end.connect_authority);
        }
        break;
    }
    case conf::listen_mode::sni: {
        // The client believed it was connecting to the name on this port.
        const upstream_target target{host_port{"", listener.bind.port}, true};
        const std::optional<std::string> no_default_name;
        co_await serve_tls(svc, w, std::move(socket), no_default_name, target, true, id,
                           listener.mode);
        break;
    }
    case conf::listen_mode::reverse: {
        const upstream_target target{host_port{listener.reverse_host, listener.reverse_port}, true};
        const std::optional<std::string> default_name = listener.reverse_host;
        co_await serve_tls(svc, w, std::move(socket), default_name, target, false, id,
                           listener.mode);
        break;
    }
    }
}

} // namespace hoplens::proxy
