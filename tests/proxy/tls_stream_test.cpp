// tls_stream on a real loopback TCP connection with OpenSSL at both ends: the records that one
// recv() brought come back from one read_some (so that the relay forwards them in one write),
// a small caller buffer leaves the rest buffered and readable without waiting, bytes arrive
// intact and in order, close_notify is a clean end, and a silent peer is a timeout.
#include "proxy/byte_stream.hpp"

#include "certs/certs.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <doctest/doctest.h>

#include <array>
#include <future>
#include <string>
#include <variant>

using namespace hoplens;
using namespace hoplens::proxy;

namespace {

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>((i * 131 + i / 4096) & 0xFF);
    }
    return s;
}

template <class T> T take(certs::result<T> r) {
    if (auto* e = std::get_if<certs::error>(&r)) {
        FAIL(e->message);
    }
    return std::move(std::get<T>(r));
}

certs::ssl_ctx_ptr server_context() {
    const auto now = std::chrono::system_clock::now();
    const auto issuer =
        take(certs::create_ca(certs::key_type::ecdsa_p256, "test", now, certs::openssl_random_bytes));
    const auto key = take(certs::generate_key(certs::key_type::ecdsa_p256));
    const auto name = take(certs::parse_host_name("stream.test"));
    const std::array<std::uint8_t, certs::serial_bytes> serial{1};
    const auto leaf = take(certs::mint_leaf(issuer, name, key.get(), now, serial));
    return take(certs::make_server_context(issuer, leaf.get(), key.get()));
}

// Both ends of one handshaken TLS connection over 127.0.0.1.
struct tls_pair {
    net::io_context io;
    certs::ssl_ctx_ptr server_ctx = server_context();
    certs::ssl_ctx_ptr client_ctx{SSL_CTX_new(TLS_client_method())};
    std::unique_ptr<tls_stream> server;
    std::unique_ptr<tls_stream> client;

    tls_pair() {
        tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        tcp::socket client_socket(io);
        client_socket.connect(acceptor.local_endpoint());
        tcp::socket server_socket = acceptor.accept();
        SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr); // the stream is tested here
        server = std::make_unique<tls_stream>(std::move(server_socket), server_ctx.get());
        client = std::make_unique<tls_stream>(std::move(client_socket), client_ctx.get());
        auto server_done = spawn(server->handshake(true));
        REQUIRE_FALSE(finish(client->handshake(false)));
        REQUIRE_FALSE(wait(server_done));
    }

    template <typename T> std::future<T> spawn(net::awaitable<T> work) {
        return net::co_spawn(io, std::move(work), net::use_future);
    }
    // Runs handlers until `done` is ready. Not io.run(): a stream's deadline watchdog keeps
    // the io_context busy for as long as the stream lives. A context that ran out of work
    // stops, and must be restarted before it runs anything again.
    template <typename T> T wait(std::future<T>& done) {
        while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
            if (io.stopped()) {
                io.restart();
            }
            io.run_one();
        }
        return done.get();
    }
    template <typename T> T finish(net::awaitable<T> work) {
        auto done = spawn(std::move(work));
        return wait(done);
    }
    // Sends `bytes` from the client and waits until they have left.
    void client_sends(const std::string& bytes) {
        REQUIRE_FALSE(finish(client->write_all(net::buffer(bytes))));
    }
    std::tuple<error_code, std::size_t> server_reads(char* into, std::size_t size) {
        return finish(server->read_some(net::buffer(into, size)));
    }
};

} // namespace

TEST_CASE("tls_stream: the records that arrived together come back from one read") {
    tls_pair p;
    const std::string sent = pattern(60 * 1024); // four records, gathered into one send()
    p.client_sends(sent);
    std::string buffer(64 * 1024, '\0');
    auto [ec, n] = p.server_reads(buffer.data(), buffer.size());
    REQUIRE_FALSE(ec);
    CHECK(n == sent.size());
    CHECK(buffer.substr(0, n) == sent);
    CHECK_FALSE(p.server->has_buffered_bytes());
}

TEST_CASE("tls_stream: a small buffer leaves the rest buffered, readable without waiting") {
    tls_pair p;
    const std::string sent = pattern(40 * 1024);
    p.client_sends(sent);
    std::string got;
    char buffer[1024];
    auto [ec, n] = p.server_reads(buffer, sizeof buffer);
    REQUIRE_FALSE(ec);
    CHECK(n == sizeof buffer);
    CHECK(p.server->has_buffered_bytes()); // the rest of the record: the relay reads on at once
    got.append(buffer, n);
    while (got.size() < sent.size()) {
        auto [more_ec, more] = p.server_reads(buffer, sizeof buffer);
        REQUIRE_FALSE(more_ec);
        got.append(buffer, more);
    }
    CHECK(got == sent);
    CHECK_FALSE(p.server->has_buffered_bytes());
}

TEST_CASE("tls_stream: 4 MiB written while the peer reads arrive intact and in order") {
    tls_pair p;
    const std::string sent = pattern(4 * 1024 * 1024);
    std::string got;
    auto reader = [&]() -> net::awaitable<error_code> {
        std::string buffer(64 * 1024, '\0');
        while (got.size() < sent.size()) {
            auto [ec, n] = co_await p.server->read_some(net::buffer(buffer));
            if (ec) {
                co_return ec;
            }
            got.append(buffer.data(), n);
        }
        co_return error_code{};
    };
    auto read_done = p.spawn(reader());
    REQUIRE_FALSE(p.finish(p.client->write_all(net::buffer(sent))));
    REQUIRE_FALSE(p.wait(read_done));
    CHECK(got.size() == sent.size());
    CHECK(got == sent);
}

TEST_CASE("tls_stream: close_notify from the peer is a clean end of stream") {
    tls_pair p;
    p.client_sends("last words");
    p.finish(p.client->shutdown());
    char buffer[64];
    auto [ec, n] = p.server_reads(buffer, sizeof buffer);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buffer, n) == "last words");
    auto [end, none] = p.server_reads(buffer, sizeof buffer);
    CHECK(end == net::error::eof);
    CHECK(is_clean_close(end));
    CHECK(none == 0);
}

TEST_CASE("tls_stream: a read from a silent peer ends with a timeout at the deadline") {
    tls_pair p;
    p.server->expires_after(std::chrono::milliseconds(50));
    char buffer[64];
    auto [ec, n] = p.server_reads(buffer, sizeof buffer);
    CHECK(ec == beast::error::timeout);
    CHECK(n == 0);
}
