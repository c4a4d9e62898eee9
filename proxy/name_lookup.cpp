#include "proxy/name_lookup.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstring>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace hoplens::proxy {

namespace {

// One getaddrinfo in flight, shared by its thread and every waiter for the same name, so
// that any of them may be done first. The eventfd is written once, when the result is in,
// and never read: it stays readable for every waiter.
struct lookup_state {
    lookup_state()
        : done_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
          started(std::chrono::steady_clock::now()) {
    }
    ~lookup_state() {
        if (done_fd >= 0) {
            ::close(done_fd);
        }
    }
    lookup_state(const lookup_state&) = delete;
    lookup_state& operator=(const lookup_state&) = delete;

    const int done_fd;
    const std::chrono::steady_clock::time_point started;
    std::mutex mutex;
    name_lookup_result result; // guarded by mutex
};

// The lookups in flight by "host:port": a burst of new connections to one name makes one
// lookup, not one each. An entry leaves when its lookup ends, answered or not. Never
// destroyed: a detached lookup thread may still finish while the process exits.
struct registry {
    std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<lookup_state>> in_flight; // by mutex
};
registry& lookups() {
    static auto& r = *new registry;
    return r;
}

name_lookup_result getaddrinfo_result(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    name_lookup_result r;
    if (rc != 0) {
        r.error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        return r;
    }
    for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
        tcp::endpoint ep;
        if (a->ai_addrlen <= ep.capacity()) {
            std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
            ep.resize(a->ai_addrlen);
            r.endpoints.push_back(ep);
        }
    }
    ::freeaddrinfo(list);
    if (r.endpoints.empty()) {
        r.error = "no address";
    } else {
        r.what = name_lookup_result::status::ok;
    }
    return r;
}

void run_lookup(const std::shared_ptr<lookup_state>& st, const std::string& key,
                const std::string& host, std::uint16_t port) {
    name_lookup_result r = getaddrinfo_result(host, port);
    {
        std::lock_guard lock(st->mutex);
        st->result = std::move(r);
    }
    {
        registry& reg = lookups();
        std::lock_guard lock(reg.mutex);
        if (const auto it = reg.in_flight.find(key); it != reg.in_flight.end() && it->second == st) {
            reg.in_flight.erase(it);
        }
    }
    const std::uint64_t one = 1;
    (void)!::write(st->done_fd, &one, sizeof one);
}

// The lookup for key: joined if one started within `fresh` (an older one may be stuck on a
// name server that has recovered since), else started. Null, and `why`, when none can be.
std::shared_ptr<lookup_state> join_or_start(const std::string& key, const std::string& host,
                                            std::uint16_t port, std::chrono::milliseconds fresh,
                                            name_lookup_result& why) {
    registry& r = lookups();
    std::lock_guard lock(r.mutex);
    const auto it = r.in_flight.find(key);
    if (it != r.in_flight.end() && std::chrono::steady_clock::now() - it->second->started < fresh) {
        return it->second;
    }
    if (it == r.in_flight.end() && r.in_flight.size() >= max_name_lookups) {
        why.what = name_lookup_result::status::too_many;
        return nullptr;
    }
    auto st = std::make_shared<lookup_state>();
    if (st->done_fd < 0) {
        why.error = std::string("cannot start a lookup: ") + std::strerror(errno);
        return nullptr;
    }
    try {
        std::thread(run_lookup, st, key, host, port).detach();
    } catch (const std::system_error& e) { // no thread to be had (a thread or process limit)
        why.error = std::string("cannot start a lookup: ") + e.what();
        return nullptr;
    }
    r.in_flight.insert_or_assign(key, st); // an abandoned older one ends without its entry
    return st;
}

// The waiting side: a duplicate of the eventfd (owned here) and the deadline, shared with
// the timer's handler, which may run after the waiter is gone.
struct waiter {
    explicit waiter(const net::any_io_executor& ex) : done(ex), timer(ex) {
    }
    net::posix::stream_descriptor done;
    net::steady_timer timer;
    bool timed_out = false;
};

} // namespace

net::awaitable<name_lookup_result> lookup_name(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout) {
    const std::string key = host + ":" + std::to_string(port);
    name_lookup_result refused;
    const auto st = join_or_start(key, host, port, timeout, refused);
    if (!st) {
        co_return refused;
    }
    auto w = std::make_shared<waiter>(co_await net::this_coro::executor);
    const int fd = ::dup(st->done_fd);
    error_code ec;
    if (fd >= 0) {
        w->done.assign(fd, ec);
    }
    if (fd < 0 || ec) {
        if (fd >= 0) {
            ::close(fd);
        }
        co_return name_lookup_result{name_lookup_result::status::failed, {},
                                     "cannot wait for the lookup: out of descriptors"};
    }
    w->timer.expires_after(timeout);
    w->timer.async_wait([w](const error_code& e) {
        if (!e) {
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
    co_return st->result; // a copy: other waiters read it too
}

} // namespace hoplens::proxy
