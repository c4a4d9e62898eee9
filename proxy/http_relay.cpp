#include "proxy/http_relay.hpp"

#include "proxy/access_log.hpp"
#include "proxy/http1_serialize.hpp"
#include "proxy/http_relay_state.hpp"
#include "proxy/message_transfer.hpp"
#include "proxy/relay_support.hpp"
#include "proxy/scoped_count.hpp"
#include "proxy/services.hpp"
#include "proxy/session.hpp"
#include "proxy/tap.hpp"
#include "proxy/tunnel.hpp"
#include "proxy/websocket_handshake.hpp"

#include <spdlog/spdlog.h>

namespace hoplens::proxy {

namespace {

using steady = std::chrono::steady_clock;

// Sends the request head (st.head_out) to `target`, on a pooled connection unless `again`:
// the head went out once already, on a pooled connection the origin had closed (and was
// captured then), so it goes on a new connection and not into the capture twice. An origin
// may close a pooled connection at any moment (keep-alive timeout): a failed write there is
// retried once on a new connection, before any body byte was sent. A request that is not
// `resendable` takes a pooled connection only after looking that it is still open.
net::awaitable<std::optional<upstream_failure>> send_request_head(upstream_pool& pool,
                                                                  relay_state& st,
                                                                  const upstream_target& target,
                                                                  bool resendable, bool again) {
    auto& up = st.up;
    for (int attempt = 0;; ++attempt) {
        if (up && st.up_target != target) {
            st.release_upstream(pool);
        }
        if (!up) {
            using reuse = upstream_pool::reuse;
            const reuse how = again || attempt > 0 ? reuse::never
                              : resendable         ? reuse::resendable
                                                   : reuse::checked;
            auto got = co_await pool.acquire(target, how);
            if (auto* failure = std::get_if<upstream_failure>(&got)) {
                co_return std::move(*failure);
            }
            up = std::move(std::get<upstream_connection>(got));
            st.up_target = target;
            st.tapped.attach(*up, st.up_target);
            up->timings = upstream_timings{}; // later exchanges on it open nothing
        } else if (attempt == 0) {
            st.tapped.attach(*up, st.up_target); // kept from the previous exchange
        }
        const error_code ec =
            co_await st.forward(*up->stream, st.head_out, flow::client_to_server, !again);
        if (!ec) {
            co_return std::nullopt;
        }
        const bool retry = up->reused && attempt == 0;
        st.drop_upstream();
        if (!retry) {
            co_return upstream_failure{502, "upstream " + target.key() +
                                                " closed the connection: " + ec.message()};
        }
    }
}

bool is_idempotent(std::string_view method) { // RFC 9110 §9.2.2
    for (const std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
        if (method == m) {
            return true;
        }
    }
    return false;
}

// RFC 9110 §15.2.2: after the origin's 101 to a WebSocket upgrade, both connections speak
// WebSocket (RFC 6455). The 101 goes to the client, then whatever either side sends is relayed
// to the other unparsed (and shown to the capture) until both have closed; the upstream
// connection is spent. The access log line is written at the end, with the tunnel's bytes.
net::awaitable<relay_end> relay_websocket(services& svc, worker& w, client_leg& client,
                                          relay_state& st, exchange_record record,
                                          std::optional<scoped_count>& in_flight) {
    // A graceful stop ends tunnels, it does not wait for them: counted as one from here.
    const auto counted = w.tunnels.hold();
    in_flight.reset();
    auto& down = *client.stream;
    auto& up = *st.up->stream;
    diag::add(svc.counters.websocket_connections_total);
    serialize_response_head(st.response.head(), connection_field::websocket, st.response_head);
    record.response_bytes += st.response_head.size();
    tunnel_bytes moved;
    // Frames sent right behind the 101, or by an eager client behind its request.
    const auto early_down = std::string(st.ubuf.pending());
    const auto early_up = std::string(st.cbuf.pending());
    st.ubuf.clear();
    st.cbuf.clear();
    // One co_await per statement: GCC 12 mishandles co_await inside && and ?: (see below).
    tunnel_end end = tunnel_end::cut;
    error_code ec = co_await st.forward(down, st.response_head, flow::server_to_client);
    if (!ec && !early_down.empty()) {
        ec = co_await st.forward(down, early_down, flow::server_to_client);
    }
    if (!ec && !early_up.empty()) {
        ec = co_await st.forward(up, early_up, flow::client_to_server);
    }
    if (!ec) {
        // Nothing of the HTTP relay is used again: an idle WebSocket holds only its streams.
        st.release_idle_memory();
        spdlog::debug("conn {} {}: websocket to {}", client.id, st.client_text, record.url);
        end = co_await tunnel(down, up, svc.options.timeout.idle, w.tunnels, moved, &svc.capture,
                              client.id);
    }
    record.request_bytes += early_up.size() + moved.client_to_server;
    record.response_bytes += early_down.size() + moved.server_to_client;
    if (svc.access.enabled()) {
        svc.access.write(record);
    }
    if (end == tunnel_end::cut || end == tunnel_end::stopped) {
        st.tapped.aborted();
    }
    st.drop_upstream();
    co_return relay_end{};
}

// One request and its response. nullopt: the connection goes on to its next request.
net::awaitable<std::optional<relay_end>> relay_exchange(services& svc, worker& w,
                                                        client_leg& client, relay_state& st) {
    const auto& opt = svc.options;
    upstream_pool& pool = w.pool;
    byte_stream& down = *client.stream;
    // Named references, not a structured binding: the lambdas below capture them, which
    // clang before 16 refuses for bindings.
    auto& cbuf = st.cbuf;
    auto& ubuf = st.ubuf;
    auto& request = st.request;
    auto& response = st.response;
    auto& forward = st.forward;
    auto& up = st.up;
    const auto& client_text = st.client_text;
    auto& tapped = st.tapped;
    auto& head_out = st.head_out;
    auto& response_head = st.response_head;

    // hoplens's own answer. It goes to the capture when this exchange's request did (sent
    // on, or shown by tapped_relay::unsent): an answer to a request the capture never saw (a
    // malformed head, a refused CONNECT) would stand in the pcapng with no request before it.
    bool request_shown = false;
    bool answers_head = false; // the request parsed is a HEAD: the answer has no body
    auto fail = [&](int status, const std::string& reason) -> net::awaitable<relay_end> {
        spdlog::info("conn {} {}: {} {}", client.id, client_text, status, reason);
        const auto answer = make_error_response(status, reason, answers_head);
        down.expires_after(std::chrono::seconds(5));
        const error_code ec = co_await down.write_all(net::buffer(answer));
        if (!ec && request_shown && svc.capture.enabled()) {
            svc.capture.chunk(client.id, flow::server_to_client, std::chrono::system_clock::now(),
                              answer);
        }
        co_await down.shutdown();
        co_return relay_end{};
    };

    request.reset();
    switch (co_await read_head(down, cbuf, request, steady::now() + opt.timeout.request_head)) {
    case head_outcome::ok:
        break;
    case head_outcome::closed_before_any_byte:
    case head_outcome::closed:
        co_return relay_end{};
    case head_outcome::timeout:
        diag::add(svc.counters.client_timeouts_total);
        co_return co_await fail(408, "request head not received within " +
                                         std::to_string(opt.timeout.request_head.count()) + " ms");
    case head_outcome::bad:
        diag::add(svc.counters.bad_requests_total);
        co_return co_await fail(400, "malformed request: " + std::string(request.error_reason()));
    case head_outcome::too_large:
        diag::add(svc.counters.headers_too_large_total);
        co_return co_await fail(431, std::string(request.error_reason()));
    }
    const message_head& head = request.head();
    answers_head = head.method() == "HEAD";
    diag::add(svc.counters.requests_total);
    std::optional<scoped_count> in_flight(std::in_place, svc.exchanges_in_flight);
    if (head.method() == "CONNECT") {
        if (client.mode != conf::listen_mode::explicit_proxy || client.fixed_target) {
            diag::add(svc.counters.bad_requests_total);
            co_return co_await fail(400, "CONNECT is only accepted by an explicit listener");
        }
        if (!cbuf.empty()) {
            // Bytes sent before the 200 (a ClientHello sent optimistically) were read with
            // the head; the tunnel's TLS reads the socket itself and would never see them, and
            // the client would wait out the handshake timeout. Say so at once instead.
            diag::add(svc.counters.bad_requests_total);
            co_return co_await fail(400, "bytes sent after CONNECT before its 200 response are "
                                         "not supported: wait for the response");
        }
        co_return relay_end{std::string(head.target())};
    }
    std::string why;
    auto where = route(client, head, why);
    if (!where) {
        diag::add(svc.counters.bad_requests_total);
        co_return co_await fail(400, why);
    }
    const bool client_wants_close = !request.keep_alive();
    // RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits before sending the
    // body. hoplens answers it itself once the upstream leg is open and forwards the
    // request without the expectation, as mitmproxy does: origins that ignore Expect then
    // cannot stall the exchange, and a final answer before the body still reaches the client.
    const bool expects_continue = request.expects_continue() && !request.complete();
    const bool websocket = asks_for_websocket(request);
    serialize_request_head(head, where->origin_form, where->host,
                           websocket ? connection_field::websocket : connection_field::keep_alive,
                           expects_continue, head_out);
    append_body_start(head_out, request, cbuf);

    std::uint64_t request_bytes = 0;
    steady::time_point sent_at;
    // The whole request left with its head: it can be sent again if a pooled connection
    // turns out to have been closed by the origin before it answered (RFC 9112 §9.3.1),
    // when its method is idempotent: a proxy must not repeat a POST on its own (RFC 9110
    // §9.2.2), the origin may have acted on it before closing.
    const bool resendable = request.complete() && is_idempotent(head.method());
    if (auto failure = co_await send_request_head(pool, st, where->target, resendable, false)) {
        diag::add(svc.counters.upstream_errors_total);
        tapped.unsent(where->target, head_out);
        request_shown = true;
        co_return co_await fail(failure->status, failure->reason);
    }
    request_shown = true;
    request_bytes += head_out.size();

    // Before each response head (interim 1xx ones included): a response to HEAD has no body.
    auto expect_response = [&] {
        response.reset();
        if (head.method() == "HEAD") {
            response.expect_no_body();
        }
    };
    expect_response();
    std::string error;
    if (expects_continue) {
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        if (co_await forward(down, go_on, flow::server_to_client)) {
            co_return relay_end{};
        }
    }
    // Set when the origin stopped taking the request body: it may have answered first (a
    // 413, a 401) and closed, and that answer, if it came, is what the client gets.
    std::string body_refused;
    if (!request.complete()) {
        const body_outcome sent =
            co_await stream_body(down, cbuf, request, *up->stream, forward, flow::client_to_server,
                                 opt.timeout.idle, request_bytes, error);
        switch (sent) {
        case body_outcome::complete:
            break;
        case body_outcome::malformed:
            st.drop_upstream();
            diag::add(svc.counters.bad_requests_total);
            co_return co_await fail(400, "malformed request body: " + error);
        case body_outcome::sender_gone: // the client: nobody is left to answer
            st.drop_upstream();
            spdlog::info("conn {} {}: request body: {}", client.id, client_text, error);
            co_return relay_end{};
        case body_outcome::receiver_gone:
            body_refused = error;
            break;
        }
    }
    sent_at = steady::now();
    head_outcome outcome;
    for (;;) {
        // One deadline for the final response, interim 1xx ones included: an origin sending
        // 1xx after 1xx gets no more time than one that sends nothing.
        outcome = co_await read_head(*up->stream, ubuf, response,
                                     sent_at + opt.timeout.upstream_response);
        if (outcome == head_outcome::closed_before_any_byte && up->reused && resendable) {
            st.drop_upstream();
            if (auto failure = co_await send_request_head(pool, st, where->target, resendable, true)) {
                diag::add(svc.counters.upstream_errors_total);
                co_return co_await fail(failure->status, failure->reason);
            }
            sent_at = steady::now();
            continue;
        }
        if (outcome != head_outcome::ok || response.head().status >= 200 ||
            response.head().status == 101) {
            break;
        }
        // 1xx interim responses (103 Early Hints, a 100 the origin sent anyway) go to the
        // client as they are; the final response follows.
        serialize_response_head(response.head(), connection_field::keep_alive, response_head);
        if (co_await forward(down, response_head, flow::server_to_client)) {
            co_return relay_end{};
        }
        expect_response();
    }
    if (outcome != head_outcome::ok) {
        diag::add(svc.counters.upstream_errors_total);
        if (outcome == head_outcome::timeout) {
            diag::add(svc.counters.upstream_timeouts_total);
        }
        st.drop_upstream();
        // Built before the co_await: GCC 12 destroyed the temporaries of a conditional
        // expression inside a co_await twice (a double free, found by review).
        const upstream_failure failure =
            no_response(outcome, where->target.key(), response, opt, body_refused);
        co_return co_await fail(failure.status, failure.reason);
    }
    const double upstream_ms =
        std::chrono::duration<double, std::milli>(steady::now() - sent_at).count();
    if (response.head().status == 101) {
        std::string refusal = "switched protocols (101) unasked";
        if (websocket) {
            refusal = websocket_refusal(head, response.head());
        }
        if (refusal.empty()) {
            exchange_record record{client_text, std::string(head.method()),
                                   where->target.key() + where->origin_form, 101, request_bytes,
                                   0, upstream_ms};
            co_return co_await relay_websocket(svc, w, client, st, std::move(record), in_flight);
        }
        // Nothing was asked for (hoplens passes on no other upgrade), or not this: the bytes
        // after it are in no protocol hoplens may pass on unparsed.
        diag::add(svc.counters.upstream_errors_total);
        st.drop_upstream();
        std::string reason = "upstream " + where->target.key() + " " + refusal;
        co_return co_await fail(502, reason);
    }
    const bool until_close = response.body_until_close();
    const bool close_client = client_wants_close || until_close || !request.complete();
    serialize_response_head(response.head(),
                            close_client ? connection_field::close : connection_field::keep_alive,
                            response_head);
    append_body_start(response_head, response, ubuf);
    std::uint64_t response_bytes = response_head.size();
    body_outcome received = body_outcome::complete;
    if (const error_code ec = co_await forward(down, response_head, flow::server_to_client)) {
        received = body_outcome::receiver_gone;
        error = ec.message();
    } else if (!response.complete()) {
        received =
            co_await stream_body(*up->stream, ubuf, response, down, forward, flow::server_to_client,
                                 opt.timeout.idle, response_bytes, error);
    }
    const bool response_ok = received == body_outcome::complete;
    if (!response_ok && received != body_outcome::receiver_gone) {
        diag::add(svc.counters.upstream_errors_total); // the origin cut or garbled its response
    }
    if (svc.access.enabled()) {
        svc.access.write(exchange_record{
            client_text, std::string(head.method()), where->target.key() + where->origin_form,
            response.head().status, request_bytes, response_bytes, upstream_ms});
    }
    if (!response_ok) {
        tapped.aborted();
        spdlog::info("conn {} {}: response from {}: {}", client.id, client_text,
                     where->target.key(), error);
        st.drop_upstream();
        // The client must see the cut, never a made-up end of body: no close_notify (TLS),
        // and a reset rather than a FIN, which would end a body delimited by the close.
        // (Closed here: Asio clears the linger option when a socket is closed by its
        // destructor.)
        error_code ignored;
        down.socket().set_option(net::socket_base::linger(true, 0), ignored);
        down.socket().close(ignored);
        co_return relay_end{};
    }
    if (!ubuf.empty()) {
        // The origin sent more than its response: those bytes answer nothing, and must never
        // be read as the next response (perhaps to another client, through the pool).
        diag::add(svc.counters.upstream_errors_total);
        spdlog::info("conn {} {}: upstream {} sent {} bytes after its response; not reused",
                     client.id, client_text, where->target.key(), ubuf.pending().size());
        st.drop_upstream();
    }
    if (!response.keep_alive() || until_close) {
        st.drop_upstream();
    }
    if (close_client) {
        if (up && request.complete()) {
            // The upstream connection is still good for others: keep it pooled, so that a
            // client's `Connection: close` costs no upstream TIME_WAIT.
            st.release_upstream(pool);
        }
        co_await down.shutdown();
        co_return relay_end{};
    }
    co_return std::nullopt;
}

} // namespace

net::awaitable<relay_end> relay_http(services& svc, worker& w, client_leg& client) {
    relay_state st(svc, client);
    for (;;) {
        if (st.cbuf.empty()) {
            // Idle between requests: hand the upstream connection to others and hold no buffer.
            st.release_upstream(w.pool);
            st.release_idle_memory();
            if (co_await client.stream->wait_readable(svc.options.timeout.idle)) {
                co_return relay_end{};
            }
        }
        if (auto end = co_await relay_exchange(svc, w, client, st)) {
            co_return std::move(*end);
        }
    }
}

} // namespace hoplens::proxy
