#include "diag/counter_values.hpp"

namespace hoplens::diag {

proxy_numbers counter_values(const proxy_counters& c) {
    // One line per field of proxy_counters: a counter added there and not here is not shown.
    return {
        {"connections_active", read(c.connections_active)},
        {"connections_total", read(c.connections_total)},
        {"requests_total", read(c.requests_total)},
        {"upstream_errors_total", read(c.upstream_errors_total)},
        {"certs_minted_total", read(c.certs_minted_total)},
        {"capture_dropped_total", read(c.capture_dropped_total)},
        {"capture_write_errors_total", read(c.capture_write_errors_total)},
        {"bad_requests_total", read(c.bad_requests_total)},
        {"headers_too_large_total", read(c.headers_too_large_total)},
        {"tls_no_sni_total", read(c.tls_no_sni_total)},
        {"tls_handshake_errors_total", read(c.tls_handshake_errors_total)},
        {"not_tls_total", read(c.not_tls_total)},
        {"denied_clients_total", read(c.denied_clients_total)},
        {"upstream_tls_verify_errors_total", read(c.upstream_tls_verify_errors_total)},
        {"upstream_timeouts_total", read(c.upstream_timeouts_total)},
        {"client_timeouts_total", read(c.client_timeouts_total)},
        {"passthrough_connections_total", read(c.passthrough_connections_total)},
        {"websocket_connections_total", read(c.websocket_connections_total)},
        {"upstream_connections_total", read(c.upstream_connections_total)},
        {"upstream_reused_total", read(c.upstream_reused_total)},
    };
}

} // namespace hoplens::diag
