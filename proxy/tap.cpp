#include "proxy/tap.hpp"

#include "proxy/capture_sink.hpp"

#include <openssl/ssl.h>

namespace hoplens::proxy {

void tap::opened(const tapped_connection& conn, time_point at) {
    sink_->opened(capture::connection_info{conn.id,
                                           {conn.client_address, conn.client_port},
                                           {},
                                           conn.server_name,
                                           conn.tls ? "https" : "http",
                                           at});
}

void tap::upstream_attached(std::uint64_t id, const std::string& address, std::uint16_t port,
                            std::int64_t dns_us, std::int64_t connect_us, std::int64_t ssl_us,
                            time_point) {
    sink_->upstream_attached(id, capture::endpoint{address, port},
                             capture::connect_timings{-1, dns_us, connect_us, ssl_us});
}

void tap::chunk(std::uint64_t id, flow direction, time_point at, std::string_view bytes) {
    sink_->chunk(id,
                 direction == flow::client_to_server ? capture::direction::client_to_server
                                                     : capture::direction::server_to_client,
                 at, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

void tap::closed(std::uint64_t id, time_point at, bool aborted) {
    sink_->closed(id, at, aborted);
}

namespace {

int tap_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

} // namespace

void install_keylog(SSL_CTX* ctx, tap& capture) {
    if (capture.sink_ == nullptr || !capture.sink_->keylog_enabled()) {
        return;
    }
    SSL_CTX_set_ex_data(ctx, tap_index(), capture.sink_);
    SSL_CTX_set_keylog_callback(ctx, [](const SSL* ssl, const char* line) {
        auto* sink = static_cast<capture_sink*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tap_index()));
        if (sink != nullptr) {
            sink->keylog_line(line);
        }
    });
}

} // namespace hoplens::proxy
