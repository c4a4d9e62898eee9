#include "proxy/tunnel.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <vector>

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
// tunnel's idle watchdog ends both directions at once.
net::awaitable<void> pump(byte_stream& from, byte_stream& to, flow direction, std::uint64_t& moved,
                          tunnel_state& st) {
    std::vector<char> buf(16 * 1024);
    for (;;) {
        auto [ec, n] = co_await from.read_some(net::buffer(buf));
        if (ec == net::error::operation_aborted) {
            co_return; // the idle watchdog ended the tunnel
        }
        if (ec) {
            st.cut = st.cut || !is_clean_close(ec);
            co_await to.shutdown();
            to.expires_never(); // a TLS shutdown sets a deadline; the other direction goes on
            co_return;
        }
        st.last_activity = steady::now();
        if (const error_code wec = co_await to.write_all(net::buffer(buf.data(), n))) {
            st.cut = true;
            co_return;
        }
        moved += n;
        if (st.capture != nullptr && st.capture->enabled()) {
            st.capture->chunk(st.id, direction, std::chrono::system_clock::now(),
                              std::string_view(buf.data(), n));
        }
    }
}

net::awaitable<void> idle_watchdog(const steady::time_point& last_activity,
                                   std::chrono::milliseconds idle) {
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        timer.expires_at(last_activity + idle);
        co_await timer.async_wait(nothrow_awaitable);
        if (steady::now() - last_activity >= idle) {
            co_return;
        }
    }
}

} // namespace

net::awaitable<tunnel_end> tunnel(byte_stream& client, byte_stream& server,
                                  std::chrono::milliseconds idle, tunnel_bytes& moved, tap* capture,
                                  std::uint64_t id) {
    client.expires_never();
    server.expires_never();
    tunnel_state st{steady::now(), false, capture, id};
    const auto ended =
        co_await ((pump(client, server, flow::client_to_server, moved.client_to_server, st) &&
                   pump(server, client, flow::server_to_client, moved.server_to_client, st)) ||
                  idle_watchdog(st.last_activity, idle));
    if (ended.index() == 1) {
        co_return tunnel_end::idle;
    }
    co_return st.cut ? tunnel_end::cut : tunnel_end::closed;
}

} // namespace hoplens::proxy
