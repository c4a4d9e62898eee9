#include "proxy/message_transfer.hpp"

#include "proxy/services.hpp"

#include <boost/beast/core/error.hpp>

namespace hoplens::proxy {

namespace {

net::awaitable<error_code> read_more(byte_stream& from, read_buffer& buf,
                                     std::chrono::milliseconds timeout) {
    from.expires_after(timeout);
    auto [data, size] = buf.space();
    auto [ec, n] = co_await from.read_some(net::mutable_buffer(data, size));
    buf.commit(n);
    co_return ec;
}

} // namespace

net::awaitable<head_outcome> read_head(byte_stream& from, read_buffer& buf, http1_parser& parser,
                                       std::chrono::steady_clock::time_point deadline) {
    bool any = !buf.empty();
    for (;;) {
        if (!buf.empty()) {
            const auto step = parser.feed(buf.pending());
            buf.consume(step.consumed);
            switch (step.status) {
            case parse_status::head_complete:
                co_return head_outcome::ok;
            case parse_status::bad_message:
                co_return head_outcome::bad;
            case parse_status::head_too_large:
                co_return head_outcome::too_large;
            case parse_status::message_complete: // only after a head; cannot happen first
            case parse_status::need_more:
                break;
            }
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            co_return head_outcome::timeout;
        }
        const error_code ec = co_await read_more(from, buf, left);
        if (ec == beast::error::timeout) {
            co_return head_outcome::timeout;
        }
        if (ec) {
            co_return any ? head_outcome::closed : head_outcome::closed_before_any_byte;
        }
        any = true;
    }
}

net::awaitable<error_code> forwarder::operator()(byte_stream& to, std::string_view bytes,
                                                 flow direction, bool shown) {
    to.expires_after(svc.options.timeout.idle);
    const error_code ec = co_await to.write_all(net::const_buffer(bytes.data(), bytes.size()));
    if (!ec && shown && svc.capture.enabled()) {
        svc.capture.chunk(id, direction, std::chrono::system_clock::now(), bytes);
    }
    co_return ec;
}

net::awaitable<body_outcome> stream_body(byte_stream& from, read_buffer& buf, http1_parser& parser,
                                         byte_stream& to, forwarder& forward, flow direction,
                                         std::chrono::milliseconds timeout, std::uint64_t& bytes,
                                         std::string& error) {
    for (;;) {
        const auto step = parser.feed(buf.pending());
        if (step.status == parse_status::bad_message) {
            error = std::string(parser.error_reason());
            co_return body_outcome::malformed;
        }
        if (step.consumed > 0) {
            const auto out = parser.body_out(buf.pending().substr(0, step.consumed));
            if (out.empty()) {
                // a chunk extension alone: nothing of it is sent on
            } else if (const error_code ec = co_await forward(to, out, direction)) {
                error = "stopped taking the body: " + ec.message();
                co_return body_outcome::receiver_gone;
            }
            bytes += out.size();
            buf.consume(step.consumed);
        }
        if (step.status == parse_status::message_complete) {
            co_return body_outcome::complete;
        }
        const error_code ec = co_await read_more(from, buf, timeout);
        if (ec) {
            if (!is_clean_close(ec) && ec != beast::error::timeout) {
                error = ec.message();
                co_return body_outcome::sender_gone;
            }
            if (ec != beast::error::timeout && parser.finish() == parse_status::message_complete) {
                co_return body_outcome::complete;
            }
            error = ec == beast::error::timeout ? "timed out in the middle of a body"
                                                : "connection closed in the middle of a body";
            co_return body_outcome::sender_gone;
        }
    }
}

void append_body_start(std::string& head, http1_parser& parser, read_buffer& buf) {
    if (parser.complete()) {
        return;
    }
    // Fed even when nothing is buffered: a message without a body completes here, with no
    // input (the steps after a head consume none), so that complete() says so at once.
    const auto step = parser.feed(buf.pending());
    if (step.status != parse_status::bad_message) {
        head.append(parser.body_out(buf.pending().substr(0, step.consumed)));
        buf.consume(step.consumed);
    }
}

} // namespace hoplens::proxy
