#pragma once
// The relay's side of the capture: what was forwarded, with when. Each call costs nothing
// when no capture file is configured; otherwise the bytes are copied once, into the capture
// queue's reused blocks (no allocation per chunk), for the capture thread, never waiting (a
// full queue drops and counts).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;

namespace hoplens::proxy {

class capture_sink;

enum class flow { client_to_server, server_to_client };

struct tapped_connection {
    std::uint64_t id = 0;
    std::string client_address;
    std::uint16_t client_port = 0;
    std::string server_name;
    bool tls = false;
};

class tap {
  public:
    using time_point = std::chrono::system_clock::time_point;

    explicit tap(capture_sink* sink) : sink_(sink) {
    }
    bool enabled() const {
        return sink_ != nullptr;
    }
    void opened(const tapped_connection& conn, time_point at);
    // Before the first bytes of an exchange go to a (new or pooled) upstream connection.
    // Phases that did not happen are -1 (microseconds otherwise).
    void upstream_attached(std::uint64_t id, const std::string& address, std::uint16_t port,
                           std::int64_t dns_us, std::int64_t connect_us, std::int64_t ssl_us,
                           time_point at);
    void chunk(std::uint64_t id, flow direction, time_point at, std::string_view bytes);
    void closed(std::uint64_t id, time_point at, bool aborted);

  private:
    friend void install_keylog(SSL_CTX* ctx, tap& capture);
    capture_sink* sink_;
};

// --keylog: every TLS connection made with ctx (either leg) writes its secrets in NSS
// key-log format, so that a tcpdump taken on the jump host decrypts in Wireshark.
void install_keylog(SSL_CTX* ctx, tap& capture);

} // namespace hoplens::proxy
