#pragma once
// Bytes relayed both ways between two connected streams, for as long as either side has
// something to say: a --passthrough TLS connection, and a connection after a WebSocket
// upgrade. No parsing: each side's end of stream is passed on as that side's end (FIN, or
// close_notify then FIN), and the tunnel ends when both sides have ended or nothing has
// moved either way for `idle`.

#include "proxy/byte_stream.hpp"
#include "proxy/scoped_count.hpp"
#include "proxy/tap.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace hoplens::proxy {

// How the tunnel ended.
enum class tunnel_end {
    closed,  // both sides ended their streams cleanly
    idle,    // nothing moved for `idle`
    cut,     // a side reset or failed: what it sent last may be incomplete
    stopped, // the proxy is stopping (tunnel_registry::end_all)
};

struct tunnel_bytes {
    std::uint64_t client_to_server = 0;
    std::uint64_t server_to_client = 0;
};

// The open tunnels of one worker, so that a stopping proxy ends them instead of waiting for
// them: a WebSocket may stay open for days, and its capture is written when it ends. Used on
// the worker's thread, but for open(), which any thread may read.
class tunnel_registry {
  public:
    // Ends every open tunnel now, and every later one as it starts.
    void end_all();
    std::uint64_t open() const {
        return open_.load(std::memory_order_relaxed);
    }
    bool ending() const {
        return ending_;
    }
    // The tunnel's watchdog timer, cancelled by end_all().
    void add(net::steady_timer& watchdog);
    void remove(net::steady_timer& watchdog);

    // Counts a tunnel in open() for as long as the result lives: from before the tunnel
    // starts (a WebSocket's 101 on its way) until its end has been recorded.
    scoped_count hold() {
        return scoped_count(open_);
    }

  private:
    std::vector<net::steady_timer*> watchdogs_;
    std::atomic<std::uint64_t> open_{0};
    bool ending_ = false;
};

// `capture`, when given, is shown every relayed chunk as connection `id`'s.
net::awaitable<tunnel_end> tunnel(byte_stream& client, byte_stream& server,
                                  std::chrono::milliseconds idle, tunnel_registry& registry,
                                  tunnel_bytes& moved, tap* capture = nullptr,
                                  std::uint64_t id = 0);

} // namespace hoplens::proxy
