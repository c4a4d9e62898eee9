#pragma once
// Heads as hoplens sends them on (rebuilt from what http1_parser read, never the bytes as
// received), and the error responses hoplens writes itself.

#include "proxy/http1_parser.hpp"

#include <string>
#include <string_view>

namespace hoplens::proxy {

// The Connection field hoplens writes on a head it sends on.
enum class connection_field {
    keep_alive, // none: HTTP/1.1's default
    close,      // `Connection: close`
    websocket,  // `Upgrade: websocket` and `Connection: upgrade` (RFC 6455 §4), written by
                // hoplens whatever Upgrade fields the message had
};

// Serializes a head for the next hop (RFC 9110 §7.6.1): hop-by-hop fields (Connection, the
// fields it names, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Proxy-Authorization)
// are dropped; everything else is kept in order and spelling. `target` replaces the request
// target (absolute-form to origin-form); `host`, when not empty, replaces the Host field
// (RFC 9112 §3.2.2: a request in absolute form is sent with its URL's authority as Host,
// whatever Host the client wrote); `connection` says what Connection field is added.
// `drop_expect` removes `Expect: 100-continue` when hoplens has answered it itself.
// Both write into `out` (cleared first), so that a connection reuses one buffer.
void serialize_request_head(const message_head& head, std::string_view target,
                            std::string_view host, connection_field connection, bool drop_expect,
                            std::string& out);
void serialize_response_head(const message_head& head, connection_field connection,
                             std::string& out);

// A complete response that hoplens itself sends (4xx/5xx): a one-line plain-text reason
// as the body, and `Connection: close`, since after an error the framing of the client's
// stream can no longer be trusted. `to_head`: the answer to a HEAD request, which has the
// same head and no body (RFC 9110 §9.3.2); the reason is then in the log only.
std::string make_error_response(int status, std::string_view reason, bool to_head = false);

} // namespace hoplens::proxy
