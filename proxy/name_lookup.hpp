#pragma once
// Name lookups (getaddrinfo) off the event loop, each name on a thread of its own, with a
// deadline.
//
// Asio's resolver runs the lookups of an io_context one at a time on a single thread, and
// getaddrinfo cannot be interrupted: one name whose server never answers (15 s and more
// with the usual resolv.conf) held every later lookup of that worker behind it, /etc/hosts
// names included. Here a waiter past its deadline leaves the lookup to finish alone; the
// thread tells it is done through an eventfd that the waiting side watches, so it never
// touches an io_context, which may be gone by then. Waiters for a name already being looked
// up join that lookup (a burst of new connections to one name is one lookup).

#include "proxy/net.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hoplens::proxy {

struct name_lookup_result {
    enum class status { ok, failed, timed_out, too_many };
    status what = status::failed;
    std::vector<tcp::endpoint> endpoints;
    std::string error; // failed: getaddrinfo's reason
};

// At most this many names are looked up at once (threads stuck behind a silent name server
// included); a lookup of yet another name is refused at once (too_many).
inline constexpr std::size_t max_name_lookups = 256;

net::awaitable<name_lookup_result> lookup_name(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout);

} // namespace hoplens::proxy
