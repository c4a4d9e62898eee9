#include "capture/websocket_session.hpp"

#include <cassert>

namespace hoplens::capture {

bool requests_websocket(const http_request& r) {
    return r.lists("upgrade", "websocket");
}

websocket_session::websocket_session(std::size_t cap_bytes) {
    log_.budget.room = cap_bytes;
}

void websocket_session::feed(direction dir, time_point at, std::string_view bytes) {
    if (!accepted()) {
        if (dir == direction::client_to_server) {
            // Past the limit the bytes are only counted: accept() then gives the client up.
            held_bytes_ += bytes.size();
            if (held_bytes_ <= max_held_bytes) {
                held_.push_back({at, std::string(bytes)});
            }
        }
        return;
    }
    auto& decoder = dir == direction::client_to_server ? client_ : server_;
    if (decoder) {
        decoder->feed(at, bytes, log_.budget, log_.messages);
    }
}

void websocket_session::accept(exchange handshake) {
    assert(!accepted());
    const bool deflate = handshake.response.lists("sec-websocket-extensions", "permessage-deflate");
    handshake_ = std::move(handshake);
    server_.emplace(direction::server_to_client, deflate);
    if (held_bytes_ > max_held_bytes) {
        log_.problems.push_back("client WebSocket frames not decoded: " +
                                std::to_string(held_bytes_) + " bytes came before the 101");
    } else {
        client_.emplace(direction::client_to_server, deflate);
        for (const held_chunk& c : held_) {
            client_->feed(c.at, c.bytes, log_.budget, log_.messages);
        }
    }
    held_ = {};
}

exchange websocket_session::finish(time_point at, const std::string& problem) {
    assert(accepted());
    exchange x = std::move(*handshake_);
    handshake_.reset();
    x.ended = at;
    x.problem = problem;
    for (const auto* d : {&client_, &server_}) {
        if (*d && !(*d)->problem().empty()) {
            log_.problems.push_back((*d)->problem());
        }
    }
    x.websocket = std::move(log_);
    return x;
}

} // namespace hoplens::capture
