#include "diag/diag.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

using namespace hoplens::diag;

namespace {

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

// Reads until the peer closes or `limit` passes; returns what arrived and whether it closed.
std::pair<std::string, bool> read_until_close(int fd, std::chrono::milliseconds limit) {
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[8192];
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return {data, true};
        }
        data.append(buf, static_cast<std::size_t>(n));
    }
    return {data, false};
}

std::string request(std::uint16_t port, const std::string& raw) {
    const int fd = connect_to(port);
    ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
    auto [data, closed] = read_until_close(fd, std::chrono::seconds(5));
    ::close(fd);
    CHECK(closed);
    return data;
}

std::string get(std::uint16_t port, const std::string& path) {
    return request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

std::string body_of(const std::string& response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
}

struct fixture {
    proxy_counters counters;
    listener_registry listeners;
    upstream_registry upstreams;
    int listen_fd = -1;

    fixture() {
        listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listen_fd, 7) == 0);
        listeners.add({"explicit", "127.0.0.1:test", 7, listen_fd});
        add(counters.requests_total, 5);
    }
    ~fixture() {
        ::close(listen_fd);
    }
    server_options options() const {
        server_options o;
        o.bind = {"127.0.0.1", 0};
        o.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        o.ca_der = std::string("\x30\x82\x00\x01", 4);
        o.request_timeout = std::chrono::milliseconds(400);
        o.max_connections = 2;
        return o;
    }
};

} // namespace

TEST_CASE("diag server: routes") {
    fixture f;
    server s(f.options(), f.counters, f.listeners, f.upstreams);
    s.start();
    REQUIRE(s.port() != 0);

    const auto health = get(s.port(), "/healthz");
    CHECK(health.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(body_of(health) == "ok");

    const auto diag = get(s.port(), "/diag?pretty=0");
    CHECK(diag.find("Content-Type: application/json") != std::string::npos);
    const auto doc = boost::json::parse(body_of(diag));
    const auto& listener = doc.at("listeners").at(0);
    CHECK(listener.at("mode").as_string() == "explicit");
    CHECK(listener.at("accept_queue").at("max").to_number<int>() == 7);
    CHECK(listener.at("backlog_requested").to_number<int>() == 7);
    CHECK(doc.at("proxy").at("requests_total").to_number<int>() == 5);

    CHECK(body_of(get(s.port(), "/ca.pem")) == f.options().ca_pem);
    CHECK(body_of(get(s.port(), "/ca.der")) == f.options().ca_der);
    CHECK(get(s.port(), "/metrics").find("hoplens_listener_accept_queue_max{") !=
          std::string::npos);
    CHECK(get(s.port(), "/").find("<title>hoplens diagnostics</title>") != std::string::npos);
    CHECK(get(s.port(), "/nope").rfind("HTTP/1.1 404", 0) == 0);
    CHECK(request(s.port(), "POST /diag HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            "Connection: close\r\n\r\nhi")
              .rfind("HTTP/1.1 405", 0) == 0);
    s.stop();
}

TEST_CASE("diag server: hostile clients cost a bounded amount") {
    fixture f;
    server s(f.options(), f.counters, f.listeners, f.upstreams);
    s.start();

    // Oversized headers: closed without an answer.
    const auto huge = "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
    CHECK(request(s.port(), huge).find("200 OK") == std::string::npos);

    // Two silent clients take both slots; a third is closed at once; the silent ones are
    // closed by the request timeout (400 ms) and the server serves again.
    const int a = connect_to(s.port());
    const int b = connect_to(s.port());
    ::usleep(100'000);
    const int c = connect_to(s.port());
    const auto [c_data, c_closed] = read_until_close(c, std::chrono::milliseconds(300));
    CHECK(c_closed);
    CHECK(c_data.empty());
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(read_until_close(a, std::chrono::seconds(3)).second);
    CHECK(read_until_close(b, std::chrono::seconds(3)).second);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    for (const int fd : {a, b, c}) {
        ::close(fd);
    }
    ::usleep(50'000);
    CHECK(body_of(get(s.port(), "/healthz")) == "ok");

    // A slow client that never finishes its request still leaves stop() prompt.
    const int slow = connect_to(s.port());
    ::send(slow, "GET /", 5, MSG_NOSIGNAL);
    const auto t1 = std::chrono::steady_clock::now();
    s.stop();
    CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(1));
    ::close(slow);
}

TEST_CASE("diag server: a bad bind address is an error naming it") {
    fixture f;
    auto o = f.options();
    o.bind = {"127.0.0.1", 0};
    server first(o, f.counters, f.listeners, f.upstreams);
    first.start();
    o.bind.port = first.port();
    server second(o, f.counters, f.listeners, f.upstreams);
    try {
        second.start();
        FAIL("bind to a used port succeeded");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())) !=
              std::string::npos);
    }
}
