#include "proxy/byte_stream.hpp"

#include "proxy/gather_bio.hpp"
#include "proxy/readable_wait.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/err.h>

namespace hoplens::proxy {

namespace {

using steady = std::chrono::steady_clock;

// OpenSSL's read-ahead buffer for a caller that reads in bulk: room for four full records,
// so that one recv() takes up to 64 KiB. Like the caller's own buffer it is allocated only
// while bytes wait in it; smaller reads keep OpenSSL's one-record default.
constexpr std::size_t bulk_read_size = 64 * 1024;
constexpr std::size_t tls_bulk_read_buffer_len = 4 * (16 * 1024 + 256) + 1024;

} // namespace

// Shared by the stream and its watchdog coroutine, so that either may end first.
struct byte_stream::watchdog {
    explicit watchdog(tcp::socket& s) : socket(&s), timer(s.get_executor()) {
    }
    tcp::socket* socket; // null once the stream is gone
    net::steady_timer timer;
    steady::time_point deadline = steady::time_point::max();
    steady::time_point armed = steady::time_point::max();
    bool fired = false;
    bool running = false;
};

net::awaitable<void> byte_stream::watch(std::shared_ptr<watchdog> w) {
    while (w->socket != nullptr) {
        w->armed = w->deadline;
        w->timer.expires_at(w->deadline);
        co_await w->timer.async_wait(nothrow_awaitable);
        if (w->socket != nullptr && w->deadline != steady::time_point::max() &&
            steady::now() >= w->deadline) {
            w->fired = true;
            w->deadline = steady::time_point::max();
            error_code ignored;
            w->socket->cancel(ignored);
        }
    }
}

byte_stream::byte_stream(tcp::socket socket)
    : socket_(std::move(socket)), watchdog_(std::make_shared<watchdog>(socket_)) {
}

byte_stream::~byte_stream() {
    watchdog_->socket = nullptr;
    watchdog_->timer.cancel();
}

void byte_stream::expires_after(duration d) {
    auto& w = *watchdog_;
    w.deadline = steady::now() + d;
    w.fired = false;
    if (!w.running) {
        w.running = true;
        net::co_spawn(socket_.get_executor(), watch(watchdog_), net::detached);
    } else if (w.deadline < w.armed) {
        w.timer.cancel(); // the watchdog wakes and re-arms for the earlier deadline
    }
}

void byte_stream::expires_never() {
    watchdog_->deadline = steady::time_point::max();
    watchdog_->fired = false;
}

bool byte_stream::timed_out() const {
    return watchdog_->fired;
}

net::awaitable<error_code> byte_stream::wait(tcp::socket::wait_type what) {
    auto [ec] = co_await socket_.async_wait(what, nothrow_awaitable);
    co_return timed_out() ? error_code(beast::error::timeout) : ec;
}

net::awaitable<error_code> byte_stream::wait_after_eagain() {
    auto [ec] = co_await async_wait_readable(socket_, nothrow_awaitable);
    co_return timed_out() ? error_code(beast::error::timeout) : ec;
}

net::awaitable<error_code> byte_stream::wait_readable(std::optional<duration> timeout) {
    if (has_buffered_bytes()) {
        co_return error_code{};
    }
    if (timeout) {
        expires_after(*timeout);
    }
    co_return co_await wait(tcp::socket::wait_read);
}

plain_stream::plain_stream(tcp::socket socket) : byte_stream(std::move(socket)) {
}

net::awaitable<std::tuple<error_code, std::size_t>> plain_stream::read_some(net::mutable_buffer b) {
    auto [ec, n] = co_await socket_.async_read_some(b, nothrow_awaitable);
    co_return std::tuple{timed_out() ? error_code(beast::error::timeout) : ec, n};
}

net::awaitable<error_code> plain_stream::write_all(net::const_buffer b) {
    auto [ec, n] = co_await net::async_write(socket_, b, nothrow_awaitable);
    co_return timed_out() ? error_code(beast::error::timeout) : ec;
}

net::awaitable<void> plain_stream::shutdown() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}

tls_stream::tls_stream(tcp::socket socket, SSL_CTX* ctx)
    : byte_stream(std::move(socket)), ssl_(SSL_new(ctx)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
    const int fd = static_cast<int>(socket_.native_handle());
    SSL_set_rfd(ssl_, fd);
    SSL_set0_wbio(ssl_, make_gather_bio(fd));
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                           SSL_MODE_RELEASE_BUFFERS);
    // OpenSSL 3 reports a peer that closes without close_notify as an error; for HTTP/1 with
    // explicit framing it is an ordinary close (the relay checks that bodies are complete).
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    // One recv() for several records instead of a header read and a body read per record.
    SSL_set_read_ahead(ssl_, 1);
}

tls_stream::~tls_stream() {
    SSL_free(ssl_);
}

net::awaitable<std::tuple<error_code, std::size_t>> tls_stream::drive(op what, void* data,
                                                                     std::size_t size) {
    for (;;) {
        // SSL_get_error needs an empty error queue. Clearing one walks all its slots (~1% of
        // a keep-alive request's CPU, perf); peeking only looks at its ends, and it is empty
        // nearly always.
        if (ERR_peek_error() != 0) {
            ERR_clear_error();
        }
        std::size_t done = 0;
        int rc = 0;
        switch (what) {
        case op::handshake:
            rc = SSL_do_handshake(ssl_);
            break;
        case op::read:
            rc = SSL_read_ex(ssl_, data, size, &done);
            break;
        case op::write:
            rc = SSL_write_ex(ssl_, data, size, &done);
            break;
        case op::shutdown:
            rc = SSL_shutdown(ssl_);
            break;
        }
        if (rc > 0) {
            co_return std::tuple{error_code{}, done};
        }
        const int err = SSL_get_error(ssl_, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            // WANT_READ: OpenSSL's own recv() on the socket said EAGAIN.
            const auto ec = err == SSL_ERROR_WANT_READ ? co_await wait_after_eagain()
                                                       : co_await wait(tcp::socket::wait_write);
            if (ec) {
                co_return std::tuple{ec, std::size_t{0}};
            }
            continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
            co_return std::tuple{error_code(net::error::eof), std::size_t{0}};
        }
        if (err == SSL_ERROR_SYSCALL) {
            const int e = errno;
            co_return std::tuple{e != 0 ? error_code(e, boost::system::system_category())
                                        : error_code(net::error::eof),
                                 std::size_t{0}};
        }
        const auto code = ERR_get_error();
        co_return std::tuple{error_code(static_cast<int>(code), net::error::get_ssl_category()),
                             std::size_t{0}};
    }
}

net::awaitable<error_code> tls_stream::handshake(bool as_server) {
    if (as_server) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
    }
    auto [ec, n] = co_await drive(op::handshake, nullptr, 0);
    co_return ec;
}

net::awaitable<std::tuple<error_code, std::size_t>> tls_stream::read_some(net::mutable_buffer b) {
    SSL_set_default_read_buffer_len(ssl_, b.size() >= bulk_read_size ? tls_bulk_read_buffer_len : 0);
    auto [ec, n] = co_await drive(op::read, b.data(), b.size());
    // SSL_read returns one record; take the others that the same recv() brought in now, so
    // that the relay forwards them with one write. A failure here (a partial record, an
    // error) is left for the next call to report: drive() empties the error queue before it
    // calls OpenSSL and reads SSL_get_error, so this loop needs no clearing of its own.
    auto* data = static_cast<char*>(b.data());
    while (!ec && n < b.size() && SSL_has_pending(ssl_) == 1) {
        std::size_t more = 0;
        if (SSL_read_ex(ssl_, data + n, b.size() - n, &more) <= 0) {
            break;
        }
        n += more;
    }
    co_return std::tuple{ec, n};
}

net::awaitable<error_code> tls_stream::write_all(net::const_buffer b) {
    auto* data = static_cast<char*>(const_cast<void*>(b.data()));
    std::size_t left = b.size();
    while (left > 0) {
        auto [ec, n] = co_await drive(op::write, data, left);
        if (ec) {
            co_return ec;
        }
        data += n;
        left -= n;
    }
    co_return co_await flush();
}

net::awaitable<error_code> tls_stream::flush() {
    BIO* out = SSL_get_wbio(ssl_);
    for (;;) {
        if (BIO_flush(out) > 0) {
            co_return error_code{};
        }
        if (!BIO_should_retry(out)) {
            co_return error_code(errno, boost::system::system_category());
        }
        if (const auto ec = co_await wait(tcp::socket::wait_write)) {
            co_return ec;
        }
    }
}

net::awaitable<void> tls_stream::shutdown() {
    // Send close_notify without waiting for the peer's (RFC 8446 §6.1 allows it): marking the
    // peer's as received makes SSL_shutdown complete once ours is written.
    SSL_set_shutdown(ssl_, SSL_RECEIVED_SHUTDOWN);
    expires_after(std::chrono::seconds(2));
    auto [ec, n] = co_await drive(op::shutdown, nullptr, 0);
    if (!ec) {
        co_await flush();
    }
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> tls_stream::half_close() {
    // SSL_shutdown() once: our close_notify only. Unlike shutdown(), the peer's is not marked
    // as received: OpenSSL would then end every read at once, and what the peer still sends
    // would be lost (found by review, in a tunnel whose client half-closed its TLS).
    for (;;) {
        if (ERR_peek_error() != 0) {
            ERR_clear_error();
        }
        const int rc = SSL_shutdown(ssl_);
        if (rc >= 0 || SSL_get_error(ssl_, rc) != SSL_ERROR_WANT_WRITE) {
            break; // 0: ours is written (the peer's is still to come), 1: both; or failed
        }
        if (co_await wait(tcp::socket::wait_write)) {
            co_return;
        }
    }
    co_await flush();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

bool tls_stream::has_buffered_bytes() {
    return SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_) == 1;
}

bool is_clean_close(const error_code& ec) {
    // Not a reset: a body that runs until the close is cut short by one (a reset is how a
    // peer says it did not finish), so it must not pass for the body's end.
    return ec == net::error::eof || ec == ssl::error::stream_truncated;
}

} // namespace hoplens::proxy
