#pragma once
// HTTP/1 reassembly of one intercepted connection (RFC 9112): the two byte streams, fed in
// arbitrary chunks, become exchanges in request order. Pipelined and kept-alive requests are
// paired with responses first-in first-out (RFC 9112 9.3.2); a response to HEAD, a 1xx, 204
// or 304 has no body (RFC 9110 6.4.1); an interim 1xx is skipped; after a 101 the rest is not
// HTTP: a WebSocket's frames are decoded into its handshake exchange, which is returned when
// the connection ends (websocket_session), other protocols are not recorded. An exchange the
// connection ends in the middle of is returned with its `problem` set: what arrived is kept,
// nothing is invented.

#include "capture/exchange.hpp"
#include "capture/websocket_session.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace hoplens::capture {

class http1_reassembler {
  public:
    http1_reassembler(const connection_info& info, std::size_t body_cap_bytes);
    ~http1_reassembler();
    http1_reassembler(const http1_reassembler&) = delete;
    http1_reassembler& operator=(const http1_reassembler&) = delete;

    // The upstream the next request goes to, and how it was reached. Called between
    // exchanges (the relay runs one at a time), which is where parsing that stopped resumes.
    void attach(const endpoint& upstream, const connect_timings& timings);
    void feed(direction dir, time_point at, std::string_view bytes);
    // Bytes were lost: exchanges in flight end with `why`, and parsing stops until the next
    // attach().
    void abandon(time_point at, std::string why);
    void close(time_point at, bool aborted);

    // Exchanges finished since the last call, in request order.
    std::vector<exchange> take_finished();

  private:
    struct side;
    void start_parsers(); // fresh parsers at the streams' current offsets
    void on_request_begin(time_point at);
    http_message* current(direction dir);
    void settle();
    void stop_parsing(time_point at, const std::string& why);
    void finish_websocket(time_point at, const std::string& why);

    connection_info info_;
    std::size_t body_cap_bytes_;
    endpoint upstream_;
    connect_timings fresh_timings_; // consumed by the next request
    std::deque<exchange> in_flight_;
    std::size_t responses_started_ = 0; // index into in_flight_ of the response being parsed
    http_response orphan_;              // a response with no request: parsed, not recorded
    bool response_is_orphan_ = false;   // the response being parsed is orphan_
    std::vector<exchange> finished_;
    std::unique_ptr<side> request_side_;
    std::unique_ptr<side> response_side_;
    std::optional<websocket_session> websocket_; // since a WebSocket upgrade request
    bool stopped_ = false;

    friend struct side_callbacks;
};

} // namespace hoplens::capture
