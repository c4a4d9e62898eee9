#pragma once
// The listening sockets of every --listen spec, their accept loops, and the process's
// lifecycle: run the workers until SIGTERM/SIGINT, then stop accepting and drain.

#include "proxy/net.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace hoplens::diag {
class listener_registry;
}

namespace hoplens::proxy {

struct services;
struct worker;

class listeners {
  public:
    listeners(services& svc, std::vector<std::unique_ptr<worker>>& workers);
    ~listeners();
    // Binds and listens on every spec; throws std::runtime_error naming the spec on failure.
    void open(diag::listener_registry& registry);
    // Runs one thread per worker until SIGTERM/SIGINT; `on_hangup` runs for each SIGHUP.
    void run_until_signal(std::function<void()> on_hangup);

  private:
    net::awaitable<void> accept_loop(std::size_t index);
    net::awaitable<void> handle_signals(std::function<void()> on_hangup);
    services& svc_;
    std::vector<std::unique_ptr<worker>>& workers_;
    std::vector<tcp::acceptor> acceptors_;
    std::size_t next_worker_ = 0;
};

} // namespace hoplens::proxy
