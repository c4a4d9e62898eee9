#pragma once
// The parts of the HTTP relay that do no I/O: where a request goes, and the bookkeeping around
// one client connection (capture events). Kept apart from the relay's
// coroutines so that each file has one purpose.

#include "proxy/http1_parser.hpp"
#include "proxy/http_relay.hpp"
#include "proxy/message_transfer.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hoplens::proxy {

// Where a request goes, and the request-target to send there.
struct routed {
    upstream_target target;
    std::string origin_form;
    std::string host; // the Host to send instead of the client's (absolute form), or empty
};

// TLS modes and CONNECT tunnels: the connection's fixed target. Explicit mode: the absolute
// URL. http mode: the Host header (RFC 9112 §3.2). nullopt and `why` when none is usable.
std::optional<routed> route(const client_leg& client, const message_head& head, std::string& why);

// What the client is told when the origin sent no usable response head: 504 for a timeout,
// 502 otherwise, with why (and why the origin stopped taking the body, if it did).
upstream_failure no_response(head_outcome outcome, const std::string& target,
                             const http1_parser& response, const conf::run_options& opt,
                             const std::string& body_refused);

// The capture's view of this client connection: opened at its first exchange (a connection
// that only says CONNECT is not one), closed when the relay ends.
class tapped_relay {
  public:
    tapped_relay(services& svc, const client_leg& client) : svc_(svc), client_(client) {
    }
    ~tapped_relay();
    tapped_relay(const tapped_relay&) = delete;
    tapped_relay& operator=(const tapped_relay&) = delete;
    // Before the first bytes of an exchange go to `up`.
    void attach(const upstream_connection& up, const upstream_target& target);
    // A request that no upstream connection took (hoplens answers it itself, and the answer
    // goes to the capture as the client receives it): the HAR and the pcapng then hold the
    // exchange the client saw, 502 or 504 and its reason, with no server.
    void unsent(const upstream_target& target, std::string_view request_head);
    void aborted() {
        aborted_ = true;
    }

  private:
    void open_once(const upstream_target& target, std::chrono::system_clock::time_point at);
    services& svc_;
    const client_leg& client_;
    bool opened_ = false;
    bool aborted_ = false;
};

// "address:port", IPv6 in brackets.
std::string peer_text(const tcp::endpoint& ep);

} // namespace hoplens::proxy
