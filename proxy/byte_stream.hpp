#pragma once
// One leg of a relayed connection, plain TCP or TLS over TCP, behind one interface so that
// the HTTP relay is written once for the four combinations of legs.
//
// TLS runs OpenSSL directly on the non-blocking socket (SSL_set_fd), the way nginx does,
// rather than through asio::ssl::stream: that stream keeps two 17 KiB buffers per connection
// for its whole life and copies every record through a BIO pair. Here an idle connection
// holds no buffer at all (SSL_MODE_RELEASE_BUFFERS) and each record is copied once. Reads
// take up to four records per recv(), and the records of one write leave in one send().
//
// Timeouts: each stream has one deadline, enforced by a watchdog coroutine that cancels the
// socket's pending operations when it passes (STYLE.md §3). Setting the deadline is a store;
// the watchdog's timer is re-armed only when a deadline moves earlier.

#include "proxy/net.hpp"

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <tuple>

namespace hoplens::proxy {

class byte_stream {
  public:
    using duration = std::chrono::steady_clock::duration;

    virtual ~byte_stream();
    byte_stream(const byte_stream&) = delete;
    byte_stream& operator=(const byte_stream&) = delete;

    virtual net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) = 0;
    virtual net::awaitable<error_code> write_all(net::const_buffer b) = 0;
    // Ends our sending side: close_notify for TLS, FIN for TCP. Errors are of no interest.
    // The peer's further bytes are not read (TLS: its close_notify is taken as received).
    virtual net::awaitable<void> shutdown() = 0;
    // Ends our sending side while the peer may go on sending, which is still read (a tunnel
    // passing one side's end on to the other). Waits under the stream's deadline.
    virtual net::awaitable<void> half_close() = 0;
    // Bytes already read from the socket and not yet returned (TLS), readable without waiting.
    virtual bool has_buffered_bytes() = 0;
    virtual SSL* ssl() = 0; // nullptr for plain TCP

    // Waits until the peer sends something, without holding a buffer while idle. `timeout`
    // replaces the stream's deadline; nullopt waits under the deadline already set.
    net::awaitable<error_code> wait_readable(std::optional<duration> timeout);

    // Operations after this fail with beast::error::timeout once `d` has passed.
    void expires_after(duration d);
    void expires_never();

    tcp::socket& socket() {
        return socket_;
    }

  protected:
    explicit byte_stream(tcp::socket socket);
    // Waits until the socket is ready for `what`, or the deadline passes.
    net::awaitable<error_code> wait(tcp::socket::wait_type what);
    // Waits for input after a recv() on the socket said EAGAIN: without Asio's re-arm of the
    // descriptor (proxy/readable_wait.hpp), which only that EAGAIN makes safe.
    net::awaitable<error_code> wait_after_eagain();
    // The deadline passed since it was last set: what a cancelled operation means.
    bool timed_out() const;

    tcp::socket socket_;

  private:
    struct watchdog;
    static net::awaitable<void> watch(std::shared_ptr<watchdog> w);
    std::shared_ptr<watchdog> watchdog_;
};

using byte_stream_ptr = std::unique_ptr<byte_stream>;

class plain_stream final : public byte_stream {
  public:
    explicit plain_stream(tcp::socket socket);
    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override;
    net::awaitable<error_code> write_all(net::const_buffer b) override;
    net::awaitable<void> shutdown() override;
    net::awaitable<void> half_close() override {
        return shutdown(); // a FIN: TCP reads go on after it
    }
    bool has_buffered_bytes() override {
        return false;
    }
    SSL* ssl() override {
        return nullptr;
    }
};

class tls_stream final : public byte_stream {
  public:
    // The SSL object takes its own reference to ctx.
    tls_stream(tcp::socket socket, SSL_CTX* ctx);
    ~tls_stream() override;
    net::awaitable<error_code> handshake(bool as_server);
    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override;
    net::awaitable<error_code> write_all(net::const_buffer b) override;
    net::awaitable<void> shutdown() override;
    net::awaitable<void> half_close() override;
    bool has_buffered_bytes() override;
    SSL* ssl() override {
        return ssl_;
    }

  private:
    enum class op { handshake, read, write, shutdown };
    // Runs one SSL call until it completes, waiting on the socket as OpenSSL asks.
    net::awaitable<std::tuple<error_code, std::size_t>> drive(op what, void* data, std::size_t size);
    // Sends the records that the write BIO gathered (gather_bio.hpp).
    net::awaitable<error_code> flush();
    SSL* ssl_;
};

// A normal end of the peer's stream, as opposed to a failure worth a log line.
bool is_clean_close(const error_code& ec);

} // namespace hoplens::proxy
