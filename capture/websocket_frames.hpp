#pragma once
// RFC 6455 frames of one direction of a WebSocket, fed in arbitrary splits, become the data
// messages devtools lists (text and binary, RFC 6455 5.6): payloads are unmasked (5.3),
// fragments joined (5.4, with control frames allowed between them), and, when the handshake
// accepted permessage-deflate, compressed messages inflated (RFC 7692 7.2.2). Close, ping and
// pong frames are parsed and skipped, as Chrome leaves them out of its HAR.
//
// Memory is bounded whatever the peer declares: a frame's length is never allocated, and the
// data kept is charged to a budget both directions share. A frame that breaks the RFC ends
// decoding of its direction, since frame boundaries after it are unknown.

#include "capture/capture.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hoplens::capture {

struct websocket_message {
    direction dir = direction::client_to_server;
    time_point at;           // the chunk that completed the message
    std::uint8_t opcode = 1; // 1 text, 2 binary
    std::string data;        // unmasked and inflated
};

// The message data one WebSocket may keep, shared by its two directions. A message is kept
// when all of its data fits in the room left as it arrives; the first one that does not fit
// fills the budget, and it and every message after it are only counted.
struct websocket_budget {
    std::size_t room = 0;
    bool full = false;
    std::uint64_t messages_left_out = 0;
    std::uint64_t bytes_left_out = 0; // their payloads as sent (compressed if they were)
};

class websocket_frame_decoder {
  public:
    websocket_frame_decoder(direction dir, bool permessage_deflate);
    ~websocket_frame_decoder();
    websocket_frame_decoder(websocket_frame_decoder&&) noexcept;
    websocket_frame_decoder& operator=(websocket_frame_decoder&&) noexcept;

    // The next bytes of this direction, all carried by a chunk stamped `at`. Messages they
    // complete are appended to `out`. Ignored once problem() is set.
    void feed(time_point at, std::string_view bytes, websocket_budget& budget,
              std::vector<websocket_message>& out);

    // Why decoding stopped ("" while it goes on).
    const std::string& problem() const;

  private:
    struct state;
    std::unique_ptr<state> s_;
};

} // namespace hoplens::capture
