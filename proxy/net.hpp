#pragma once
// The Asio/Beast vocabulary of proxy/. Included only by the translation units that run
// coroutines, so that the rest of the tree compiles without Asio.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace hoplens::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

// Every I/O call takes this token explicitly: errors come back as values (STYLE.md §4).
inline constexpr auto nothrow_awaitable = net::as_tuple(net::use_awaitable);

} // namespace hoplens::proxy
