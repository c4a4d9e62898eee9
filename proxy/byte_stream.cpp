#include "proxy/byte_stream.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/ssl.h>

namespace hoplens::proxy {

using namespace net::experimental::awaitable_operators;

net::awaitable<error_code> byte_stream::wait_readable(std::chrono::steady_clock::duration timeout) {
    if (has_buffered_bytes()) {
        co_return error_code{};
    }
    auto& socket = tcp_.socket();
    net::steady_timer timer(socket.get_executor(), timeout);
    auto outcome = co_await (socket.async_wait(tcp::socket::wait_read, nothrow_awaitable) ||
                             timer.async_wait(nothrow_awaitable));
    if (outcome.index() == 1) {
        co_return error_code(beast::error::timeout);
    }
    co_return std::get<0>(std::get<0>(outcome));
}

plain_stream::plain_stream(tcp::socket socket) : byte_stream(stream_), stream_(std::move(socket)) {
}

net::awaitable<std::tuple<error_code, std::size_t>> plain_stream::read_some(net::mutable_buffer b) {
    co_return co_await stream_.async_read_some(b, nothrow_awaitable);
}

net::awaitable<error_code> plain_stream::write_all(net::const_buffer b) {
    auto [ec, n] = co_await net::async_write(stream_, b, nothrow_awaitable);
    co_return ec;
}

net::awaitable<void> plain_stream::shutdown() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}

tls_stream::tls_stream(tcp::socket socket, ssl::context& ctx)
    : byte_stream(stream_.next_layer()), stream_(beast::tcp_stream(std::move(socket)), ctx) {
}

net::awaitable<error_code> tls_stream::handshake(ssl::stream_base::handshake_type type) {
    auto [ec] = co_await stream_.async_handshake(type, nothrow_awaitable);
    co_return ec;
}

net::awaitable<std::tuple<error_code, std::size_t>> tls_stream::read_some(net::mutable_buffer b) {
    co_return co_await stream_.async_read_some(b, nothrow_awaitable);
}

net::awaitable<error_code> tls_stream::write_all(net::const_buffer b) {
    auto [ec, n] = co_await net::async_write(stream_, b, nothrow_awaitable);
    co_return ec;
}

net::awaitable<void> tls_stream::shutdown() {
    // Send close_notify without waiting for the peer's (RFC 8446 §6.1 allows it): marking the
    // peer's as received makes SSL_shutdown complete once ours is written.
    SSL_set_shutdown(stream_.native_handle(), SSL_RECEIVED_SHUTDOWN);
    stream_.next_layer().expires_after(std::chrono::seconds(2));
    co_await stream_.async_shutdown(nothrow_awaitable);
    error_code ignored;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Bytes may wait in three places: decrypted in the SSL object, as a record OpenSSL has read
// but not yet processed, or still in the BIO that Asio filled from the socket (a client's
// first request often arrives in the same read as its handshake Finished).
bool tls_stream::has_buffered_bytes() {
    SSL* ssl = stream_.native_handle();
    return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 ||
           BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

bool is_clean_close(const error_code& ec) {
    return ec == net::error::eof || ec == ssl::error::stream_truncated ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

} // namespace hoplens::proxy
