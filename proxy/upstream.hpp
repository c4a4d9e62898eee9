#pragma once
// The upstream leg: resolve (or --map), connect with a timeout, TLS with SNI and a verified
// certificate, and a per-worker pool of kept-alive connections keyed by (host, port, tls).
//
// Thread Safety: an upstream_pool belongs to one worker's io_context and is used only from
// that thread; the TLS client context and its session cache are shared and lock inside.

#include "proxy/byte_stream.hpp"
#include "proxy/request_target.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

namespace hoplens::conf {
struct run_options;
}

namespace hoplens::proxy {

struct services;

struct upstream_target {
    host_port authority;
    bool tls = true;
    std::string key() const; // "https://host:port", for messages
    bool operator==(const upstream_target& other) const {
        return tls == other.tls && authority.port == other.authority.port &&
               authority.host == other.authority.host;
    }
};

// The pool looks targets up on every request: hashing the parts builds no key string.
struct upstream_target_hash {
    std::size_t operator()(const upstream_target& t) const {
        return std::hash<std::string>{}(t.authority.host) ^
               (std::size_t(t.authority.port) << 1 | std::size_t(t.tls));
    }
};

// Microseconds spent in each phase of opening this connection; -1 when the phase did not
// happen (a pooled connection, a numeric address that needed no lookup).
struct upstream_timings {
    std::int64_t dns_us = -1;
    std::int64_t connect_us = -1;
    std::int64_t ssl_us = -1;
};

struct upstream_connection {
    byte_stream_ptr stream;
    tcp::endpoint remote;
    upstream_timings timings;
    bool reused = false;
    std::chrono::steady_clock::time_point idle_since{};
};

// Why the upstream leg could not be opened, as the client will read it.
struct upstream_failure {
    int status = 502; // 502, or 504 for a timeout
    std::string reason;
};

template <typename T> using upstream_result = std::variant<T, upstream_failure>;

// The client-side TLS context for every upstream connection, and its session cache so that
// a new upstream connection resumes instead of paying a full verifying handshake.
class upstream_tls {
  public:
    explicit upstream_tls(const conf::run_options& options); // throws on a bad --upstream-ca
    ~upstream_tls();
    SSL_CTX* context() {
        return ctx_.get();
    }
    // Prepares a new SSL object: SNI, hostname or IP check, a cached session to resume.
    void prepare(SSL* ssl, const host_port& target);

  private:
    static int on_new_session(SSL* ssl, SSL_SESSION* session);
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
    bool verify_;
    std::mutex mutex_;
    std::unordered_map<std::string, SSL_SESSION*> sessions_; // owned references
    static constexpr std::size_t max_sessions = 4096;          // ~2 KiB each
};

class upstream_pool {
  public:
    explicit upstream_pool(services& svc) : svc_(svc) {
    }
    upstream_pool(const upstream_pool&) = delete;
    upstream_pool& operator=(const upstream_pool&) = delete;

    // How a request may use a kept-alive connection.
    enum class reuse {
        never,
        // One idle for a moment is taken without looking (a syscall saved per request): the
        // request can be sent again if the origin had closed it.
        resendable,
        // Looked at first, however briefly idle: a request that must not be sent twice.
        checked,
    };
    // A kept-alive connection to target if one is idle and still open, else a new one.
    net::awaitable<upstream_result<upstream_connection>> acquire(const upstream_target& target,
                                                                 reuse how);
    // Gives back a connection whose last response ended cleanly with keep-alive.
    void release(const upstream_target& target, upstream_connection conn);
    // Closes idle connections that the origin has closed or that sat unused too long, so
    // that the pool holds no CLOSE_WAIT sockets. Called every few seconds by the worker.
    void sweep();
    // Only the TCP connection (passthrough relays TLS without touching it).
    net::awaitable<upstream_result<upstream_connection>> connect_tcp(const host_port& target);

  private:
    net::awaitable<upstream_result<std::vector<tcp::endpoint>>> resolve(const host_port& target,
                                                                        upstream_timings& t);
    std::unordered_map<upstream_target, std::deque<upstream_connection>, upstream_target_hash> idle_;
    services& svc_;
};

} // namespace hoplens::proxy
