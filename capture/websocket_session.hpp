#pragma once
// The WebSocket an HTTP/1 connection becomes after a handshake (RFC 6455 4): the 101 exchange
// is held, not recorded, while the frames of both directions are decoded into its
// websocket_log, and it is recorded when the connection ends.
//
// It exists from the client's upgrade request on, because the capture may see the client's
// first frames before the 101 that allowed them (the relay taps each direction after writing
// it on): those are held, up to max_held_bytes, until the server's answer says what they are.

#include "capture/exchange.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hoplens::capture {

// True if `r` asks to become a WebSocket (RFC 6455 4.1: Upgrade lists "websocket").
bool requests_websocket(const http_request& r);

class websocket_session {
  public:
    // Client bytes held before the 101; past them, the client's frames are not decoded.
    static constexpr std::size_t max_held_bytes = 64 * 1024;

    // `cap_bytes`: the message data the entry may keep, both directions together.
    explicit websocket_session(std::size_t cap_bytes);

    // Bytes after the upgrade. Before accept() only client bytes can come, and are held.
    void feed(direction dir, time_point at, std::string_view bytes);

    // The server switched protocols (101): `handshake` becomes the entry that carries the
    // messages, with permessage-deflate if its response accepted it (RFC 7692 5).
    void accept(exchange handshake);
    bool accepted() const {
        return handshake_.has_value();
    }

    // The handshake entry with its messages, ended at `at`; a non-empty `problem` marks it
    // incomplete. Only after accept(), once.
    exchange finish(time_point at, const std::string& problem);

  private:
    struct held_chunk {
        time_point at;
        std::string bytes;
    };

    std::optional<exchange> handshake_;
    websocket_log log_;
    std::optional<websocket_frame_decoder> client_;
    std::optional<websocket_frame_decoder> server_;
    std::vector<held_chunk> held_;
    std::size_t held_bytes_ = 0;
};

} // namespace hoplens::capture
