#pragma once
// diag/: public API. proxy/ registers its listening sockets and the upstreams it connects
// to, main() runs the endpoint (`--diag ADDR:PORT`), and `hoplens diag` prints a host report.
// No Asio in this header: the server's Beast code lives in server.cpp only.

#include "conf/conf.hpp"
#include "diag/counters.hpp"
#include "diag/ip_endpoint.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

struct sockaddr;

namespace hoplens::diag {

// What proxy/ tells diag about one listening socket (one per socket: with SO_REUSEPORT a
// --listen spec has one per thread).
struct listener_info {
    std::string mode;    // "explicit", "sni", "http", "reverse:https://host:443"
    std::string address; // as shown to users: "127.0.0.1:8080", "[::1]:8080"
    int backlog_requested = 0; // the value passed to listen()
    int native_fd = -1;  // the listening socket; diag reads its inode (fstat) and port
};

// A listener as kept by the registry: the fd's identity is read once, at add().
struct registered_listener {
    listener_info info;
    std::uint32_t inode = 0;        // matches inet_diag_msg.idiag_inode
    std::optional<ip_endpoint> local; // getsockname()
};

// Thread Safety: every member locks; add() from any thread, list() from the diag thread.
class listener_registry {
public:
    // Accepts a listening socket's fd (it may be closed later: its identity is copied now).
    void add(const listener_info& info);
    void add_for_test(const registered_listener& listener);
    std::vector<registered_listener> list() const;

private:
    mutable std::mutex mutex_;
    std::vector<registered_listener> listeners_;
};

// The upstream endpoints the proxy connected to: TIME_WAIT sockets whose remote end is one
// of them are counted as `own_outbound`. Bounded: past max_entries new endpoints are not
// kept (and own_outbound undercounts; dropped_entries() says by how many).
// Thread Safety: every member locks; call note_upstream from the worker threads.
class upstream_registry {
public:
    explicit upstream_registry(std::size_t max_entries = 4096);
    // Accepts AF_INET / AF_INET6 socket addresses (asio: `ep.data(), ep.size()`); ignores others.
    void note_upstream(const sockaddr* address, std::size_t length);
    void note_upstream(const ip_endpoint& endpoint);
    std::set<ip_endpoint> list() const;
    std::uint64_t dropped_entries() const;

private:
    mutable std::mutex mutex_;
    std::set<ip_endpoint> endpoints_;
    std::size_t max_entries_;
    std::uint64_t dropped_ = 0;
};

struct server_options {
    conf::endpoint bind{"127.0.0.1", 9090}; // port 0: pick one (see server::port())
    std::string ca_pem;                      // served at /ca.pem
    std::string ca_der;                      // served at /ca.der (bytes)
    bool insecure_upstream = false;          // --insecure-upstream: a warning in the advice
    std::size_t max_connections = 16;        // concurrent diag clients; more are closed at once
    std::chrono::milliseconds request_timeout{5000}; // read a request, write a response
    std::chrono::milliseconds snapshot_max_age{250}; // reuse one kernel reading this long
};

// The diagnostics HTTP endpoint: /healthz /diag /metrics /ca.pem /ca.der /.
// Runs its own io_context on its own thread, so a slow kernel read or a slow client never
// touches the proxy's workers. The "since start" baselines are read in the constructor.
// The registries and counters must outlive the server.
class server {
public:
    server(server_options options, const proxy_counters& counters,
           const listener_registry& listeners, const upstream_registry& upstreams);
    ~server(); // stop()s
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and starts the thread. Throws std::system_error naming the address on failure.
    void start();
    // Closes the acceptor and every diag connection, joins the thread. Idempotent.
    void stop();
    std::uint16_t port() const; // the bound port, after start()

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// `hoplens diag`: reads the host (every listener, or those on `ports`), samples the TcpExt
// counters twice `window` apart so that "rising" means rising now, and prints the report
// (text, or the /diag JSON). Returns the exit status: 0, or 1 when the kernel cannot be read.
int print_host_report(const std::vector<std::uint16_t>& ports, bool json,
                      std::chrono::milliseconds window, std::ostream& out, std::ostream& err);

} // namespace hoplens::diag
