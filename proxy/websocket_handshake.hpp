#pragma once
// The WebSocket opening handshake as a proxy checks it (RFC 6455 §4), pure: which requests
// hoplens passes on as an upgrade, and which 101 answers it then tunnels. Anything else is
// not tunnelled: bytes after a 101 that switched to another protocol, or to none, would reach
// the origin unparsed, past the HAR and the access log.

#include "proxy/http1_parser.hpp"

#include <string>

namespace hoplens::proxy {

// The request asks to switch the connection to WebSocket (RFC 6455 §4.1): an HTTP/1.1 GET
// with no body, `Connection: upgrade`, `websocket` among the Upgrade field's protocols, and
// one Sec-WebSocket-Key. Other upgrades (h2c, ...) are not passed on: the origin answers
// them as plain requests. hoplens offers the origin `Upgrade: websocket` alone
// (connection_field::websocket).
bool asks_for_websocket(const http1_parser& request);

// Why a 101 to such a request does not switch to WebSocket (RFC 6455 §4.2.2: one Upgrade
// field saying websocket, Connection listing upgrade, one Sec-WebSocket-Accept derived from
// the request's key), or "" when it does.
std::string websocket_refusal(const message_head& request, const message_head& response);

} // namespace hoplens::proxy
