#pragma once
// One leg of a relayed connection, plain TCP or TLS over TCP, behind one interface so that
// the HTTP relay is written once for the four combinations of legs. Each operation is bounded
// by the deadline set with expires_after().

#include "proxy/net.hpp"

#include <chrono>
#include <memory>
#include <tuple>

namespace hoplens::proxy {

class byte_stream {
  public:
    virtual ~byte_stream() = default;

    virtual net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) = 0;
    virtual net::awaitable<error_code> write_all(net::const_buffer b) = 0;
    // Ends our sending side: close_notify for TLS, FIN for TCP. Errors are of no interest.
    virtual net::awaitable<void> shutdown() = 0;
    // Decrypted bytes already buffered inside the stream (TLS), readable without waiting.
    virtual bool has_buffered_bytes() = 0;
    virtual SSL* ssl() = 0; // nullptr for plain TCP

    // Waits until the peer sends something, without holding a buffer while idle.
    net::awaitable<error_code> wait_readable(std::chrono::steady_clock::duration timeout);

    beast::tcp_stream& tcp() {
        return tcp_;
    }
    void expires_after(std::chrono::steady_clock::duration d) {
        tcp_.expires_after(d);
    }

  protected:
    explicit byte_stream(beast::tcp_stream& tcp) : tcp_(tcp) {
    }

  private:
    beast::tcp_stream& tcp_;
};

using byte_stream_ptr = std::unique_ptr<byte_stream>;

class plain_stream final : public byte_stream {
  public:
    explicit plain_stream(tcp::socket socket);
    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override;
    net::awaitable<error_code> write_all(net::const_buffer b) override;
    net::awaitable<void> shutdown() override;
    bool has_buffered_bytes() override {
        return false;
    }
    SSL* ssl() override {
        return nullptr;
    }

  private:
    beast::tcp_stream stream_;
};

class tls_stream final : public byte_stream {
  public:
    // The context is only used to create the SSL object; the stream keeps no reference to it.
    tls_stream(tcp::socket socket, ssl::context& ctx);
    net::awaitable<error_code> handshake(ssl::stream_base::handshake_type type);
    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override;
    net::awaitable<error_code> write_all(net::const_buffer b) override;
    net::awaitable<void> shutdown() override;
    bool has_buffered_bytes() override;
    SSL* ssl() override {
        return stream_.native_handle();
    }

  private:
    ssl::stream<beast::tcp_stream> stream_;
};

// A normal end of the peer's stream, as opposed to a failure worth a log line.
bool is_clean_close(const error_code& ec);

} // namespace hoplens::proxy
