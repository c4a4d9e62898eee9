#include "proxy/upstream.hpp"

#include "conf/conf.hpp"
#include "proxy/name_lookup.hpp"
#include "proxy/services.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <stdexcept>

namespace hoplens::proxy {

namespace {

using clock = std::chrono::steady_clock;

std::int64_t micros_since(clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
}

void free_session_key(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<std::string*>(ptr);
}
// The target an SSL object connects to, so that its session is cached under that name.
int session_key_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_session_key);
    return index;
}
int owner_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// A pooled connection that the origin closed meanwhile (keep-alive timeout) has EOF or a
// close_notify waiting; anything readable before we sent a request means it is not reusable.
// Shorter than typical origin keep-alive timeouts (nginx: 75 s), so that we rarely send on a
// connection the origin is closing.
constexpr auto max_idle = std::chrono::seconds(30);

bool still_open(upstream_connection& conn) {
    char byte;
    const auto fd = conn.stream->socket().native_handle();
    const auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace

std::string upstream_target::key() const {
    return (tls ? "https://" : "http://") + authority_text(authority);
}

upstream_tls::upstream_tls(const conf::run_options& options)
    : ctx_(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free), verify_(!options.insecure_upstream) {
    SSL_CTX* ctx = ctx_.get();
    if (ctx == nullptr) {
        throw std::runtime_error("cannot create the upstream TLS context");
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        throw std::runtime_error("cannot load the system's trusted certificates");
    }
    if (options.upstream_ca) {
        if (SSL_CTX_load_verify_locations(ctx, options.upstream_ca->c_str(), nullptr) != 1) {
            throw std::runtime_error("--upstream-ca: cannot load '" + options.upstream_ca->string() +
                                     "': " + ERR_reason_error_string(ERR_get_error()));
        }
    }
    SSL_CTX_set_verify(ctx, verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    // An origin asking for a TLS 1.2 renegotiation in the middle of a tunnel's concurrent
    // read and write would cut it: refused (the origin gets a no_renegotiation alert).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_ex_data(ctx, owner_index(), this);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &upstream_tls::on_new_session);
}

upstream_tls::~upstream_tls() {
    for (auto& [key, session] : sessions_) {
        SSL_SESSION_free(session);
    }
}

void upstream_tls::prepare(SSL* ssl, const host_port& target) {
    boost::system::error_code ec;
    net::ip::make_address(target.host, ec);
    const bool is_ip = !ec;
    if (!is_ip) {
        SSL_set_tlsext_host_name(ssl, target.host.c_str()); // RFC 6066 §3: never for literals
    }
    if (verify_) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(param, target.host.c_str());
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(param, target.host.c_str(), 0);
        }
    }
    auto* key = new std::string(authority_text(target));
    SSL_set_ex_data(ssl, session_key_index(), key);
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(*key); it != sessions_.end()) {
        SSL_set_session(ssl, it->second);
    }
}

// Called by OpenSSL when the server sends a session (TLS 1.3: a NewSessionTicket after the
// handshake). Keeps the newest one per target; returning 1 keeps our reference.
int upstream_tls::on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<upstream_tls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), owner_index()));
    auto* key = static_cast<std::string*>(SSL_get_ex_data(ssl, session_key_index()));
    if (self == nullptr || key == nullptr) {
        return 0;
    }
    std::lock_guard lock(self->mutex_);
    auto& sessions = self->sessions_;
    if (sessions.size() >= max_sessions && !sessions.contains(*key)) {
        // An explicit proxy's clients name any number of hosts: the cache stays bounded by
        // giving up one session, whichever the table lists first (a full handshake later).
        SSL_SESSION_free(sessions.begin()->second);
        sessions.erase(sessions.begin());
    }
    auto& slot = sessions[*key];
    if (slot != nullptr) {
        SSL_SESSION_free(slot);
    }
    slot = session;
    return 1;
}

net::awaitable<upstream_result<std::vector<tcp::endpoint>>>
upstream_pool::resolve(const host_port& target, upstream_timings& t) {
    std::string host = target.host;
    std::uint16_t port = target.port;
    for (const auto& m : svc_.options.maps) {
        if (m.host == target.host) {
            host = m.address;
            port = m.port.value_or(port);
            break;
        }
    }
    std::vector<tcp::endpoint> out;
    error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (!ec) {
        out.emplace_back(address, port);
        co_return out;
    }
    const auto start = clock::now();
    const auto timeout = svc_.options.timeout.connect;
    name_lookup_result found = co_await lookup_name(host, port, timeout);
    t.dns_us = micros_since(start);
    std::string reason;
    switch (found.what) {
    case name_lookup_result::status::ok:
        co_return std::move(found.endpoints);
    case name_lookup_result::status::timed_out:
        diag::add(svc_.counters.upstream_timeouts_total);
        reason = "resolving " + target.host + " timed out after " +
                 std::to_string(timeout.count()) + " ms";
        co_return upstream_failure{504, std::move(reason)};
    case name_lookup_result::status::too_many:
        reason = "cannot resolve " + target.host + ": " + std::to_string(max_name_lookups) +
                 " other names are already being looked up";
        co_return upstream_failure{502, std::move(reason)};
    case name_lookup_result::status::failed:
        break;
    }
    reason = "cannot resolve " + target.host + ": " + found.error;
    co_return upstream_failure{502, std::move(reason)};
}

// Would a connection to `ep` arrive at one of our own listeners? A listener on the wildcard
// address takes loopback connections too. (A name that resolves to the jump host's public
// address is not caught here.)
static bool is_own_listener(const services& svc, const tcp::endpoint& ep) {
    for (const auto& [address, port] : svc.own_listeners) {
        if (port != ep.port()) {
            continue;
        }
        error_code ec;
        const auto listener = net::ip::make_address(address, ec);
        if (!ec && (listener == ep.address() ||
                    (listener.is_unspecified() && (ep.address().is_loopback() ||
                                                   ep.address().is_unspecified())))) {
            return true;
        }
    }
    return false;
}

net::awaitable<upstream_result<upstream_connection>> upstream_pool::connect_tcp(const host_port& target) {
    upstream_timings timings;
    auto resolved = co_await resolve(target, timings);
    if (auto* failure = std::get_if<upstream_failure>(&resolved)) {
        co_return std::move(*failure);
    }
    const auto& endpoints = std::get<0>(resolved);
    for (const auto& ep : endpoints) {
        if (is_own_listener(svc_, ep)) {
            co_return upstream_failure{508, authority_text(target) + " is this proxy itself (" +
                                                authority_text(host_port{ep.address().to_string(), ep.port()}) +
                                                "): refusing to loop"};
        }
    }
    beast::tcp_stream stream(co_await net::this_coro::executor);
    const auto timeout = svc_.options.timeout.connect;
    stream.expires_after(timeout);
    const auto start = clock::now();
    auto [ec, endpoint] = co_await stream.async_connect(endpoints, nothrow_awaitable);
    timings.connect_us = micros_since(start);
    if (ec == beast::error::timeout) {
        diag::add(svc_.counters.upstream_timeouts_total);
        co_return upstream_failure{504, "connecting to " + authority_text(target) + " timed out after " +
                                            std::to_string(timeout.count()) + " ms"};
    }
    if (ec) {
        // A failed range connect returns no endpoint: say which addresses were tried.
        std::string tried = "no address";
        if (!endpoints.empty()) {
            tried = endpoints.front().address().to_string();
        }
        if (endpoints.size() > 1) {
            tried += " and " + std::to_string(endpoints.size() - 1) + " more";
        }
        co_return upstream_failure{502, "cannot connect to " + authority_text(target) + " (" +
                                            tried + "): " + ec.message()};
    }
    stream.socket().set_option(tcp::no_delay(true));
    diag::add(svc_.counters.upstream_connections_total);
    if (svc_.note_upstream) {
        svc_.note_upstream(endpoint.data(), endpoint.size());
    }
    upstream_connection conn;
    conn.remote = endpoint;
    conn.timings = timings;
    conn.stream = std::make_unique<plain_stream>(stream.release_socket());
    co_return conn;
}

net::awaitable<upstream_result<upstream_connection>>
upstream_pool::acquire(const upstream_target& target, reuse how) {
    if (how != reuse::never) {
        if (auto it = idle_.find(target); it != idle_.end()) {
            auto& idle = it->second;
            while (!idle.empty()) {
                upstream_connection conn = std::move(idle.back());
                idle.pop_back();
                const auto idle = clock::now() - conn.idle_since;
                const bool look = how == reuse::checked || idle >= std::chrono::seconds(1);
                if (idle < max_idle && (!look || still_open(conn))) {
                    conn.reused = true;
                    conn.timings = upstream_timings{};
                    diag::add(svc_.counters.upstream_reused_total);
                    co_return conn;
                }
            }
        }
    }
    auto opened = co_await connect_tcp(target.authority);
    if (!target.tls || std::holds_alternative<upstream_failure>(opened)) {
        co_return opened;
    }
    auto& conn = std::get<upstream_connection>(opened);
    auto tls = std::make_unique<tls_stream>(std::move(conn.stream->socket()),
                                            svc_.upstream.context());
    svc_.upstream.prepare(tls->ssl(), target.authority);
    tls->expires_after(svc_.options.timeout.tls_handshake);
    const auto start = clock::now();
    const error_code ec = co_await tls->handshake(false);
    conn.timings.ssl_us = micros_since(start);
    if (ec) {
        const long verify = SSL_get_verify_result(tls->ssl());
        if (ec == beast::error::timeout) {
            diag::add(svc_.counters.upstream_timeouts_total);
            co_return upstream_failure{504, "TLS handshake with " + authority_text(target.authority) +
                                                " timed out"};
        }
        if (verify != X509_V_OK) {
            diag::add(svc_.counters.upstream_tls_verify_errors_total);
            co_return upstream_failure{502, "upstream certificate for " + target.authority.host + ": " +
                                                X509_verify_cert_error_string(verify)};
        }
        co_return upstream_failure{502, "TLS handshake with " + authority_text(target.authority) +
                                            " failed: " + ec.message()};
    }
    tls->expires_never();
    conn.stream = std::move(tls);
    co_return std::move(conn);
}

void upstream_pool::sweep() {
    const auto now = clock::now();
    for (auto& [target, idle] : idle_) {
        std::erase_if(idle, [&](upstream_connection& c) {
            return now - c.idle_since >= max_idle || !still_open(c);
        });
    }
    std::erase_if(idle_, [](const auto& entry) { return entry.second.empty(); });
}

void upstream_pool::release(const upstream_target& target, upstream_connection conn) {
    // Bounded per target: a burst of parallel requests should not leave hundreds idle.
    constexpr std::size_t max_idle_per_target = 64;
    auto& idle = idle_[target];
    conn.stream->expires_never();
    conn.idle_since = clock::now();
    if (idle.size() >= max_idle_per_target) {
        idle.pop_front();
    }
    idle.push_back(std::move(conn));
}

} // namespace hoplens::proxy
