#include "proxy/tunnel.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <memory>
#include <tuple>

namespace hoplens::proxy {

namespace {

using namespace net::experimental::awaitable_operators;
using steady = std::chrono::steady_clock;

struct tunnel_state {
    steady::time_point last_activity = steady::now();
    bool cut = false;
    tap* capture;
    std::uint64_t id;
};

// One direction: read, write on, show the capture. The streams' own deadlines are not used
// (they are per stream, and a stream quiet in one direction may be busy in the other): the
// tunnel's idle watchdog ends both directions at once. The buffer is held only while bytes
// flow: a WebSocket or passthrough connection may sit idle for hours, and would otherwise
// hold 16 KiB per direction all along.
net::awaitable<void> pump(byte_stream& from, byte_stream& to, flow direction, std::uint64_t& moved,
                          tunnel_state& st) {
    constexpr std::size_t buffer_size = 16 * 1024;
    std::unique_ptr<char[]> buf;
    for (;;) {
        error_code ec;
        std::size_t n = 0;
        if (!buf) {
            ec = co_await from.wait_readable(std::nullopt);
            if (!ec) {
                buf = std::make_unique<char[]>(buffer_size);
            }
        }
        if (!ec) {
            std::tie(ec, n) = co_await from.read_some(net::buffer(buf.get(), buffer_size));
        }
        if (ec == net::error::operation_aborted) {
            co_return; // the idle watchdog ended the tunnel
        }
        if (ec) {
            st.cut = st.cut || !is_clean_close(ec);
            co_await to.half_close(); // the other direction goes on until its own end
            co_return;
        }
        st.last_activity = steady::now();
        if (const error_code wec = co_await to.write_all(net::buffer(buf.get(), n))) {
            st.cut = true;
            co_return;
        }
        moved += n;
        if (st.capture != nullptr && st.capture->enabled()) {
            st.capture->chunk(st.id, direction, std::chrono::system_clock::now(),
                              std::string_view(buf.get(), n));
        }
        if (n < buffer_size) {
            buf.reset(); // the sender paused: wait without the buffer
        }
    }
}

// Returns when nothing has moved for `idle` (true), or when the registry ends its tunnels
// (false).
net::awaitable<bool> idle_watchdog(const steady::time_point& last_activity,
                                   std::chrono::milliseconds idle, tunnel_registry& registry) {
    net::steady_timer timer(co_await net::this_coro::executor);
    registry.add(timer);
    struct deregister {
        tunnel_registry& registry;
        net::steady_timer& timer;
        ~deregister() {
            registry.remove(timer);
        }
    } registered{registry, timer};
    while (!registry.ending()) {
        timer.expires_at(last_activity + idle);
        co_await timer.async_wait(nothrow_awaitable);
        if ((co_await net::this_coro::cancellation_state).cancelled() !=
            net::cancellation_type::none) {
            co_return false; // both directions ended first
        }
        if (steady::now() - last_activity >= idle) {
            co_return true;
        }
    }
    co_return false;
}

} // namespace

void tunnel_registry::end_all() {
    ending_ = true;
    for (net::steady_timer* t : watchdogs_) {
        t->cancel();
    }
}

void tunnel_registry::add(net::steady_timer& watchdog) {
    watchdogs_.push_back(&watchdog);
}

void tunnel_registry::remove(net::steady_timer& watchdog) {
    watchdogs_.erase(std::find(watchdogs_.begin(), watchdogs_.end(), &watchdog));
}

net::awaitable<tunnel_end> tunnel(byte_stream& client, byte_stream& server,
                                  std::chrono::milliseconds idle, tunnel_registry& registry,
                                  tunnel_bytes& moved, tap* capture, std::uint64_t id) {
    // Counted until both directions are done, not only the watchdog: a stopping proxy waits
    // for open() to reach 0, and the caller records the end with no wait in between.
    const auto counted = registry.hold();
    client.expires_never();
    server.expires_never();
    tunnel_state st{steady::now(), false, capture, id};
    const auto ended =
        co_await ((pump(client, server, flow::client_to_server, moved.client_to_server, st) &&
                   pump(server, client, flow::server_to_client, moved.server_to_client, st)) ||
                  idle_watchdog(st.last_activity, idle, registry));
    if (ended.index() == 1) {
        co_return std::get<1>(ended) ? tunnel_end::idle : tunnel_end::stopped;
    }
    co_return st.cut ? tunnel_end::cut : tunnel_end::closed;
}

} // namespace hoplens::proxy
