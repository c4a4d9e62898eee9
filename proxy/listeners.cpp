#include "proxy/listeners.hpp"

#include "diag/diag.hpp"
#include "proxy/request_target.hpp"
#include "proxy/services.hpp"
#include "proxy/session.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>
#include <pthread.h>

namespace hoplens::proxy {

namespace {

// Completion of every coroutine spawned here: errors are handled inside them, so anything
// that arrives here is a bug worth a log line, never a reason to stop the process.
void log_failure(std::exception_ptr e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("coroutine ended by an unexpected error: {}", ex.what());
    }
}

// Runs on the worker's own loop, so the pool needs no lock; ends when the loop stops.
net::awaitable<void> sweep_pool(worker& w) {
    net::steady_timer timer(w.io);
    for (;;) {
        timer.expires_after(std::chrono::seconds(5));
        if (auto [ec] = co_await timer.async_wait(nothrow_awaitable); ec) {
            co_return;
        }
        w.pool.sweep();
    }
}

} // namespace

listeners::listeners(services& svc, std::vector<std::unique_ptr<worker>>& workers)
    : svc_(svc), workers_(workers) {
}

listeners::~listeners() = default;

void listeners::open(diag::listener_registry& registry) {
    // Acceptors live on the first worker; each accepted socket is handed to the next worker
    // in turn and stays there (STYLE.md §3: one io_context per thread, no strands).
    auto& io = workers_.front()->io;
    for (const auto& spec : svc_.options.listens) {
        error_code ec;
        const auto address = net::ip::make_address(spec.bind.address, ec);
        const tcp::endpoint endpoint(address, spec.bind.port);
        tcp::acceptor acceptor(io);
        auto check = [&](const char* what) {
            if (ec) {
                throw std::runtime_error("--listen " + spec.text + ": cannot " + what + ": " +
                                         ec.message());
            }
        };
        acceptor.open(endpoint.protocol(), ec);
        check("open a socket");
        acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (address.is_v6()) {
            acceptor.set_option(net::ip::v6_only(true), ec);
        }
        acceptor.bind(endpoint, ec);
        check("bind");
        acceptor.listen(svc_.options.backlog, ec);
        check("listen");
        std::string mode(conf::to_string(spec.mode));
        if (spec.mode == conf::listen_mode::reverse) {
            mode += ":https://" + authority_text(host_port{spec.reverse_host, spec.reverse_port});
        }
        const auto local = acceptor.local_endpoint();
        svc_.own_listeners.emplace_back(local.address().to_string(), local.port());
        registry.add(diag::listener_info{mode, authority_text(host_port{local.address().to_string(), local.port()}),
                                         svc_.options.backlog, acceptor.native_handle()});
        acceptors_.push_back(std::move(acceptor));
    }
}

net::awaitable<void> listeners::accept_loop(std::size_t index) {
    auto& acceptor = acceptors_[index];
    const auto& spec = svc_.options.listens[index];
    for (;;) {
        worker& w = *workers_[next_worker_++ % workers_.size()];
        auto [ec, socket] = co_await acceptor.async_accept(w.io, nothrow_awaitable);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
            co_return;
        }
        if (ec) {
            // EMFILE and friends: say so and pause, rather than spin on a full fd table.
            spdlog::warn("accept on {}: {}", spec.text, ec.message());
            net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(nothrow_awaitable);
            continue;
        }
        net::co_spawn(w.io, serve_client(svc_, w, spec, std::move(socket)), log_failure);
    }
}

net::awaitable<void> listeners::handle_signals(std::function<void()> on_hangup) {
    net::signal_set signals(co_await net::this_coro::executor, SIGINT, SIGTERM, SIGHUP);
    for (;;) {
        auto [ec, signo] = co_await signals.async_wait(nothrow_awaitable);
        if (ec) {
            co_return;
        }
        if (signo == SIGHUP) {
            spdlog::info("SIGHUP: reopening log and capture files");
            on_hangup();
            continue;
        }
        break;
    }
    spdlog::info("stopping: no new connections; draining exchanges in flight");
    for (auto& a : acceptors_) {
        error_code ignored;
        a.close(ignored);
    }
    net::steady_timer timer(co_await net::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + svc_.options.timeout.drain;
    while (svc_.exchanges_in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(nothrow_awaitable);
    }
    // Tunnels (WebSocket, passthrough) have no end to wait for: they are ended, and their
    // connections closed while the capture can still record them (within a TLS shutdown's
    // 2 s).
    for (auto& w : workers_) {
        net::post(w->io, [&tunnels = w->tunnels] { tunnels.end_all(); });
    }
    auto tunnels_open = [this] {
        std::uint64_t n = 0;
        for (const auto& w : workers_) {
            n += w->tunnels.open();
        }
        return n;
    };
    const auto tunnels_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (tunnels_open() > 0 && std::chrono::steady_clock::now() < tunnels_deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(nothrow_awaitable);
    }
    for (auto& w : workers_) {
        w->io.stop();
    }
}

void listeners::run_until_signal(std::function<void()> on_hangup) {
    auto& io = workers_.front()->io;
    // Keeps worker loops alive while they have no connection yet.
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& w : workers_) {
        guards.push_back(net::make_work_guard(w->io));
    }
    for (std::size_t i = 0; i < acceptors_.size(); ++i) {
        net::co_spawn(io, accept_loop(i), log_failure);
    }
    net::co_spawn(io, handle_signals(std::move(on_hangup)), log_failure);
    for (auto& w : workers_) {
        net::co_spawn(w->io, sweep_pool(*w), log_failure);
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < workers_.size(); ++i) {
        threads.emplace_back([&w = *workers_[i]] {
            ::pthread_setname_np(::pthread_self(), "hoplens-worker"); // for top -H and perf
            w.io.run();
        });
    }
    io.run();
    for (auto& t : threads) {
        t.join();
    }
}

} // namespace hoplens::proxy
