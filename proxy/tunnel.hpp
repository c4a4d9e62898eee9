#pragma once
// Bytes relayed both ways between two connected streams, for as long as either side has
// something to say: a --passthrough TLS connection, and a connection after a WebSocket
// upgrade. No parsing: each side's end of stream is passed on as that side's end (FIN, or
// close_notify then FIN), and the tunnel ends when both sides have ended or nothing has
// moved either way for `idle`.

#include "proxy/byte_stream.hpp"
#include "proxy/tap.hpp"

#include <chrono>
#include <cstdint>

namespace hoplens::proxy {

// How the tunnel ended.
enum class tunnel_end {
    closed, // both sides ended their streams cleanly
    idle,   // nothing moved for `idle`
    cut,    // a side reset or failed: what it sent last may be incomplete
};

struct tunnel_bytes {
    std::uint64_t client_to_server = 0;
    std::uint64_t server_to_client = 0;
};

// `capture`, when given, is shown every relayed chunk as connection `id`'s.
net::awaitable<tunnel_end> tunnel(byte_stream& client, byte_stream& server,
                                  std::chrono::milliseconds idle, tunnel_bytes& moved,
                                  tap* capture = nullptr, std::uint64_t id = 0);

} // namespace hoplens::proxy
