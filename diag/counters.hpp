#pragma once
// Counters that proxy/ increments and diag/ reports (/diag `proxy` keys and /metrics).
// Thread Safety: every field is a relaxed atomic; any thread may add, any thread may read.

#include <atomic>
#include <cstdint>

namespace hoplens::diag {

using counter = std::atomic<std::uint64_t>;

struct proxy_counters {
    counter connections_active{0};
    counter connections_total{0};
    counter requests_total{0};
    counter upstream_errors_total{0};
    counter certs_minted_total{0};
    counter capture_dropped_total{0};
    counter capture_write_errors_total{0};
    // Bad input, by cause (each also logged once per event).
    counter bad_requests_total{0};          // 400: malformed head, smuggling shapes, bad chunk
    counter headers_too_large_total{0};     // 431
    counter tls_no_sni_total{0};            // ClientHello without server_name (sni mode)
    counter tls_handshake_errors_total{0};  // client leg handshakes that failed
    counter not_tls_total{0};               // garbage where a ClientHello was expected
    counter denied_clients_total{0};        // outside --allow
    counter upstream_tls_verify_errors_total{0};
    counter upstream_timeouts_total{0};
    counter client_timeouts_total{0};
    counter passthrough_connections_total{0};
    counter websocket_connections_total{0}; // switched to WebSocket by a 101, then tunnelled
    counter upstream_connections_total{0};  // new upstream connections opened
    counter upstream_reused_total{0};       // requests served on a pooled upstream connection
};

inline void add(counter& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
}
inline std::uint64_t read(const counter& c) {
    return c.load(std::memory_order_relaxed);
}

} // namespace hoplens::diag
