#include "proxy/name_lookup.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

namespace hoplens::proxy {

namespace {

std::atomic<int> lookups_running{0};

// Shared by the lookup's thread and its waiter, so that either may be done first.
struct lookup_state {
    lookup_state() : done_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    }
    ~lookup_state() {
        if (done_fd >= 0) {
            ::close(done_fd);
        }
    }
    lookup_state(const lookup_state&) = delete;
    lookup_state& operator=(const lookup_state&) = delete;

    const int done_fd;
    std::mutex mutex;
    name_lookup_result result; // guarded by mutex
};

void run_lookup(const std::shared_ptr<lookup_state>& st, const std::string& host,
                std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    name_lookup_result r;
    if (rc != 0) {
        r.error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    } else {
        for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
            tcp::endpoint ep;
            if (a->ai_addrlen <= ep.capacity()) {
                std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
                ep.resize(a->ai_addrlen);
                r.endpoints.push_back(ep);
            }
        }
        ::freeaddrinfo(list);
        r.what = r.endpoints.empty() ? name_lookup_result::status::failed
                                     : name_lookup_result::status::ok;
        if (r.endpoints.empty()) {
            r.error = "no address";
        }
    }
    {
        std::lock_guard lock(st->mutex);
        st->result = std::move(r);
    }
    const std::uint64_t one = 1;
    (void)!::write(st->done_fd, &one, sizeof one);
    lookups_running.fetch_sub(1, std::memory_order_relaxed);
}

// The waiting side: the eventfd (a duplicate, owned here) and the deadline, shared with the
// timer's handler, which may run after the waiter is gone.
struct waiter {
    waiter(const net::any_io_executor& ex, int fd) : done(ex, fd), timer(ex) {
    }
    net::posix::stream_descriptor done;
    net::steady_timer timer;
    bool timed_out = false;
};

} // namespace

net::awaitable<name_lookup_result> lookup_name(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout) {
    if (lookups_running.fetch_add(1, std::memory_order_relaxed) >= max_name_lookups) {
        lookups_running.fetch_sub(1, std::memory_order_relaxed);
        co_return name_lookup_result{name_lookup_result::status::too_many, {}, {}};
    }
    auto st = std::make_shared<lookup_state>();
    const int fd = st->done_fd < 0 ? -1 : ::dup(st->done_fd);
    if (fd < 0) {
        lookups_running.fetch_sub(1, std::memory_order_relaxed);
        co_return name_lookup_result{name_lookup_result::status::failed, {}, std::strerror(errno)};
    }
    auto w = std::make_shared<waiter>(co_await net::this_coro::executor, fd);
    std::thread(run_lookup, st, host, port).detach();
    w->timer.expires_after(timeout);
    w->timer.async_wait([w](const error_code& ec) {
        if (!ec) {
            w->timed_out = true;
            error_code ignored;
            w->done.cancel(ignored);
        }
    });
    co_await w->done.async_wait(net::posix::stream_descriptor::wait_read, nothrow_awaitable);
    w->timer.cancel();
    if (w->timed_out) {
        co_return name_lookup_result{name_lookup_result::status::timed_out, {}, {}};
    }
    std::lock_guard lock(st->mutex);
    co_return std::move(st->result);
}

} // namespace hoplens::proxy
