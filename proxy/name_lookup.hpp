#pragma once
// Name lookups (getaddrinfo) off the event loop, each on a thread of its own, with a deadline.
//
// Asio's resolver runs the lookups of an io_context one at a time on a single thread, and
// getaddrinfo cannot be interrupted: one name whose server never answers (15 s and more
// with the usual resolv.conf) held every later lookup of that worker behind it, /etc/hosts
// names included. Here a lookup past its deadline is abandoned to finish alone; the thread
// tells it is done through an eventfd that the waiting side watches, so it never touches
// the io_context, which may be gone by then.

#include "proxy/net.hpp"

#include <chrono>
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

// At most this many lookups run at once (threads stuck behind a silent name server
// included); more are refused at once (too_many).
inline constexpr int max_name_lookups = 64;

net::awaitable<name_lookup_result> lookup_name(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout);

} // namespace hoplens::proxy
