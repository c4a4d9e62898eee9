#pragma once
// What the HTTP relay of one client connection keeps across its exchanges. Its own header so
// that http_relay.cpp holds the relay's coroutines alone; they stay in that one translation
// unit (the WebSocket relay after a 101 among them): a second one would parse Asio and
// instantiate its coroutine machinery again, nearly as costly to compile as the whole relay.

#include "proxy/http_relay.hpp"
#include "proxy/message_transfer.hpp"
#include "proxy/relay_support.hpp"
#include "proxy/services.hpp"

#include <optional>
#include <string>

namespace hoplens::proxy {

// What lives as long as the client connection. One exchange's own state lives in the frame
// of relay_exchange, which exists only while the exchange runs: a coroutine frame holds a
// slot for every local and temporary of the function, ~2 KiB here, and an idle keep-alive
// connection should not (PERF-NOTES: memory per idle connection).
struct relay_state {
    relay_state(services& svc, const client_leg& client)
        : request(message_kind::request, svc.options.max_header_bytes),
          response(message_kind::response, svc.options.max_header_bytes), forward{svc, client.id},
          client_text(peer_text(client.peer)), tapped(svc, client) {
    }

    read_buffer cbuf;
    read_buffer ubuf;
    http1_parser request;
    http1_parser response;
    forwarder forward;
    std::optional<upstream_connection> up; // kept between exchanges while the client is busy
    upstream_target up_target;
    const std::string client_text;
    tapped_relay tapped;
    // The heads as forwarded, rebuilt in place for every exchange; given back while the
    // client is idle, with the parsers' (a few small allocations per exchange against ~1 KiB
    // per idle connection).
    std::string head_out;
    std::string response_head;

    // ubuf holds bytes of `up` only: whenever the connection goes, they go with it.
    void drop_upstream() {
        up.reset();
        ubuf.clear();
    }
    void release_upstream(upstream_pool& pool) {
        if (up) {
            pool.release(up_target, std::move(*up));
        }
        drop_upstream();
    }

    void release_idle_memory() {
        cbuf.release_if_empty();
        ubuf.release_if_empty();
        std::string().swap(head_out);
        std::string().swap(response_head);
        request.release_memory();
        response.release_memory();
    }
};

} // namespace hoplens::proxy
