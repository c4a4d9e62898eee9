#pragma once
// The HTTP/1 relay of one client connection: request heads parsed and rewritten for the next
// hop, bodies streamed through after the parser accepted them, responses relayed back, the
// client and upstream connections kept alive and the upstream one pooled.

#include "conf/conf.hpp"
#include "proxy/byte_stream.hpp"
#include "proxy/upstream.hpp"

#include <optional>
#include <string>

namespace hoplens::proxy {

struct services;
struct worker;

struct client_leg {
    byte_stream_ptr stream;
    std::uint64_t id = 0;
    tcp::endpoint peer;
    conf::listen_mode mode = conf::listen_mode::explicit_proxy;
    // Every request goes here (TLS modes, CONNECT); otherwise each request names its target
    // (absolute form in explicit mode, the Host header in http mode).
    std::optional<upstream_target> fixed_target;
};

struct relay_end {
    // Explicit mode: the client asked `CONNECT authority`; the head has been consumed and
    // nothing was answered yet.
    std::optional<std::string> connect_authority;
};

net::awaitable<relay_end> relay_http(services& svc, worker& w, client_leg& client);

} // namespace hoplens::proxy
