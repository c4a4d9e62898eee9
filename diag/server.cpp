// The diagnostics endpoint: the only Beast/Asio translation unit of diag/ (compile time).
// One thread, one io_context, one coroutine per connection. Every read and write has a
// deadline (tcp_stream::expires_after), requests are size-capped, and connections beyond
// max_connections are closed at accept, so a slow or hostile client costs at most a socket
// for request_timeout. Kernel reads happen on this thread too, never on the proxy's workers.
#include "diag/collect.hpp"
#include "diag/counter_values.hpp"
#include "diag/diag.hpp"
#include "diag/render.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <thread>
#include <pthread.h>

namespace hoplens::diag {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::uint32_t max_header_bytes = 8 * 1024;
constexpr std::uint64_t max_body_bytes = 1024; // every route is a GET: a body is a mistake
constexpr int max_requests_per_connection = 100;
constexpr int html_refresh_seconds = 5;

struct response_parts {
    http::status status = http::status::ok;
    std::string content_type;
    std::string body;
};

// "/diag?x=1" -> "/diag".
std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

} // namespace

struct server::impl {
    impl(server_options o, const proxy_counters& c, const listener_registry& l,
         const upstream_registry& u)
        : options(std::move(o)), counters(c), listeners(l), upstreams(u) {
        if (auto base = read_kernel_counters(); std::holds_alternative<counter_table>(base)) {
            baseline = std::move(std::get<counter_table>(base));
        }
    }

    // The kernel reading is reused for snapshot_max_age so that a client polling in a loop
    // costs one netlink dump per period, not one per request.
    std::variant<kernel_reading, parse_error>& reading() {
        const auto now = std::chrono::steady_clock::now();
        if (!cached || now - cached_at > options.snapshot_max_age) {
            cached = read_kernel();
            cached_at = now;
        }
        return *cached;
    }

    std::optional<snapshot> take_snapshot(std::string& error) {
        const auto& r = reading();
        if (const auto* e = std::get_if<parse_error>(&r)) {
            error = e->what;
            return std::nullopt;
        }
        report_scope scope;
        scope.ours = listeners.list();
        scope.upstreams = upstreams.list();
        auto snap = build_snapshot(std::get<kernel_reading>(r), baseline, scope);
        snap.proxy = counter_values(counters);
        snap.insecure_upstream = options.insecure_upstream;
        return snap;
    }

    response_parts route(std::string_view path) {
        if (path == "/healthz") {
            return {http::status::ok, "text/plain; charset=utf-8", "ok"};
        }
        if (path == "/ca.pem") {
            return {http::status::ok, "application/x-pem-file", options.ca_pem};
        }
        if (path == "/ca.der") {
            return {http::status::ok, "application/pkix-cert", options.ca_der};
        }
        if (path != "/diag" && path != "/metrics" && path != "/") {
            return {http::status::not_found, "text/plain; charset=utf-8", "not found\n"};
        }
        std::string error;
        const auto snap = take_snapshot(error);
        if (!snap) {
            return {http::status::internal_server_error, "text/plain; charset=utf-8",
                    "cannot read the kernel: " + error + "\n"};
        }
        const auto advice = advise(*snap);
        if (path == "/diag") {
            return {http::status::ok, "application/json", render_json(*snap, advice)};
        }
        if (path == "/metrics") {
            return {http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                    render_metrics(*snap, advice)};
        }
        return {http::status::ok, "text/html; charset=utf-8",
                render_html(*snap, advice, html_refresh_seconds)};
    }

    http::response<http::string_body> respond(const http::request<http::string_body>& req) {
        response_parts parts;
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            parts = {http::status::method_not_allowed, "text/plain; charset=utf-8",
                     "only GET and HEAD\n"};
        } else {
            parts = route(path_of(req.target()));
        }
        http::response<http::string_body> res{parts.status, req.version()};
        res.set(http::field::content_type, parts.content_type);
        res.set(http::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        res.keep_alive(req.keep_alive());
        res.body() = std::move(parts.body);
        res.prepare_payload();
        if (req.method() == http::verb::head) {
            res.body().clear(); // Content-Length stays the GET's (RFC 9110 §9.3.2)
        }
        return res;
    }

    net::awaitable<void> session(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer(max_header_bytes + max_body_bytes);
        for (int i = 0; i < max_requests_per_connection; ++i) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(max_header_bytes);
            parser.body_limit(max_body_bytes);
            stream.expires_after(options.request_timeout);
            auto [read_error, read_bytes] =
                co_await http::async_read(stream, buffer, parser, use_tuple);
            if (read_error) {
                break; // timeout, oversize, garbage or close: nothing to answer
            }
            auto res = respond(parser.get());
            stream.expires_after(options.request_timeout);
            auto [write_error, written] = co_await http::async_write(stream, res, use_tuple);
            if (write_error || !res.keep_alive()) {
                break;
            }
        }
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [error, socket] = co_await acceptor->async_accept(use_tuple);
            if (error == net::error::operation_aborted || !acceptor->is_open()) {
                co_return;
            }
            if (error) {
                continue; // EMFILE, ECONNABORTED: the next accept may work
            }
            if (active >= options.max_connections) {
                continue; // the socket closes here: refused, costs nothing more
            }
            ++active;
            net::co_spawn(ioc, session(std::move(socket)), [this](std::exception_ptr) {
                --active; // a session that threw (bad_alloc) is just closed
            });
        }
    }

    server_options options;
    const proxy_counters& counters;
    const listener_registry& listeners;
    const upstream_registry& upstreams;
    counter_table baseline;
    std::optional<std::variant<kernel_reading, parse_error>> cached;
    std::chrono::steady_clock::time_point cached_at;
    std::size_t active = 0; // touched only by the diag thread
    std::uint16_t bound_port = 0;
    // Declared after what the coroutines use: their frames die with ioc, before those.
    net::io_context ioc{1};
    std::optional<tcp::acceptor> acceptor;
    std::thread thread;
};

server::server(server_options options, const proxy_counters& counters,
               const listener_registry& listeners, const upstream_registry& upstreams)
    : impl_(std::make_unique<impl>(std::move(options), counters, listeners, upstreams)) {}

server::~server() {
    stop();
}

void server::start() {
    auto& s = *impl_;
    boost::system::error_code ec;
    const auto address = net::ip::make_address(s.options.bind.address, ec);
    const auto where = s.options.bind.address + ":" + std::to_string(s.options.bind.port);
    if (ec) {
        throw std::system_error(ec, "diag endpoint " + where);
    }
    try {
        s.acceptor.emplace(s.ioc, tcp::endpoint(address, s.options.bind.port));
    } catch (const boost::system::system_error& e) {
        throw std::system_error(e.code(), "diag endpoint " + where);
    }
    s.bound_port = s.acceptor->local_endpoint().port();
    net::co_spawn(s.ioc, s.accept_loop(), [](std::exception_ptr) {});
    s.thread = std::thread([&s] {
        ::pthread_setname_np(::pthread_self(), "hoplens-diag");
        s.ioc.run();
    });
}

void server::stop() {
    auto& s = *impl_;
    if (!s.thread.joinable()) {
        return;
    }
    net::post(s.ioc, [&s] {
        beast::error_code ignored;
        s.acceptor->close(ignored);
        s.ioc.stop(); // open sessions are abandoned: their frames die with the io_context
    });
    s.thread.join();
}

std::uint16_t server::port() const {
    return impl_->bound_port;
}

} // namespace hoplens::diag
