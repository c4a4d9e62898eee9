#pragma once
// One HTTP/1 message moved from one leg to the other: its head read into the parser, its body
// streamed on as the parser accepts it (so that nothing malformed is forwarded), and the body
// bytes that arrived with the head sent in the head's own write. Each forwarded chunk is shown
// to the capture after it was written.

#include "proxy/byte_stream.hpp"
#include "proxy/http1_parser.hpp"
#include "proxy/read_buffer.hpp"
#include "proxy/tap.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hoplens::proxy {

struct services;

// How reading a head ended, beyond "the parser has it".
enum class head_outcome { ok, closed_before_any_byte, closed, timeout, bad, too_large };

// Reads until the parser has a head, or until `deadline`: one deadline for the whole head,
// not one per read, so that a peer sending a byte at a time cannot hold the connection.
net::awaitable<head_outcome> read_head(byte_stream& from, read_buffer& buf, http1_parser& parser,
                                       std::chrono::steady_clock::time_point deadline);

// One leg's bytes forwarded to the other leg, then shown to the capture.
struct forwarder {
    services& svc;
    std::uint64_t id;

    // `shown`: false for bytes the capture has seen already (a request sent again after a
    // pooled connection turned out closed), which must not appear twice in its stream.
    net::awaitable<error_code> operator()(byte_stream& to, std::string_view bytes, flow direction,
                                          bool shown = true);
};

// How streaming a body ended: which side, if any, failed it.
enum class body_outcome {
    complete,
    malformed,    // the sender's framing is bad (parser.error_reason() says how)
    sender_gone,  // the sender closed, reset or stalled in the middle of the body
    receiver_gone // the receiver stopped taking bytes
};

// Streams the rest of a message whose head has been parsed: feed, then forward what the
// parser accepted. Anything but `complete` comes with the reason in `error`; `bytes` counts
// the body bytes forwarded.
net::awaitable<body_outcome> stream_body(byte_stream& from, read_buffer& buf, http1_parser& parser,
                                         byte_stream& to, forwarder& forward, flow direction,
                                         std::chrono::milliseconds timeout, std::uint64_t& bytes,
                                         std::string& error);

// A rewritten head followed by the body bytes already read, so that a small message leaves
// in one write (one TLS record, one syscall) instead of two. A malformed start of body is
// left in `buf` for stream_body to report.
void append_body_start(std::string& head, http1_parser& parser, read_buffer& buf);

} // namespace hoplens::proxy
