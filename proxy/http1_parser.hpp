#pragma once
// An incremental HTTP/1 message parser over llhttp, pure (no I/O). The relay feeds it the
// bytes it reads and forwards them only after the parser accepted them, so that a malformed
// or smuggling-shaped message is never passed on.
//
// The parser stops at two points of each message: when the head is complete (so the relay
// can rewrite the head before forwarding it) and when the message is complete (so bytes of a
// pipelined next message are not mistaken for this one's body).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hoplens::proxy {

struct http1_parser_state; // llhttp glue, private to the .cpp

// A parsed head. Every piece lives in one string whose capacity is kept from message to
// message, so that parsing a head on a kept-alive connection allocates nothing.
class message_head {
  public:
    struct field {
        std::string_view name;
        std::string_view value;
    };

    std::string_view method() const { // requests
        return view(method_);
    }
    std::string_view target() const { // request-target as sent (origin, absolute, authority)
        return view(target_);
    }
    std::string_view reason() const { // responses
        return view(reason_);
    }
    std::size_t field_count() const {
        return fields_.size();
    }
    field field_at(std::size_t i) const {
        return {view(fields_[i].name), view(fields_[i].value)};
    }
    // First value of a header (case-insensitive name), empty when absent.
    std::string_view find(std::string_view name) const;

    int status = 0;
    int version_major = 1;
    int version_minor = 1;
    std::size_t wire_size = 0; // bytes of the head on the wire, CRLFs included

  private:
    friend struct http1_parser_state;
    friend class http1_parser;
    struct span {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
    };
    struct field_spans {
        span name;
        span value;
    };
    std::string_view view(span s) const {
        return std::string_view(text_).substr(s.offset, s.length);
    }
    void clear();
    void release(); // clear(), and give the memory back
    void trim_field_names(); // whitespace before the colon
    // Appends bytes of the piece being parsed; pieces arrive in order, each contiguous.
    void append(span& piece, const char* at, std::size_t n);

    std::string text_;
    span method_;
    span target_;
    span reason_;
    std::vector<field_spans> fields_;
};

enum class parse_status {
    need_more,     // every byte consumed; the message is not complete
    head_complete, // head() is ready; bytes after it are body or the next message
    message_complete,
    bad_message,   // malformed, smuggling-shaped (CL+TE, differing CLs), or a bad chunk
    head_too_large,
};

struct parse_step {
    parse_status status;
    std::size_t consumed; // bytes of the input accepted before stopping
};

enum class message_kind { request, response };

class http1_parser {
  public:
    http1_parser(message_kind kind, std::size_t max_head_bytes);
    ~http1_parser();
    http1_parser(const http1_parser&) = delete;
    http1_parser& operator=(const http1_parser&) = delete;

    // Accepts bytes after the last stop; returns at the next stop or when all are consumed.
    parse_step feed(std::string_view bytes);
    // The connection closed: a body delimited by the close is complete, anything else is cut.
    parse_status finish();
    // Prepares for the next message on the same connection.
    void reset();
    // Between messages: gives back the last head's memory (head() is empty until the next).
    void release_memory();

    const message_head& head() const {
        return head_;
    }
    // For a response: the request was HEAD (or the response is to CONNECT), so no body follows
    // whatever the headers say (RFC 9112 §6.3). Call before feeding the response.
    void expect_no_body() {
        no_body_ = true;
    }
    bool keep_alive() const;
    // The request carries `Expect: 100-continue` (RFC 9110 §10.1.1), HTTP/1.1 or later.
    bool expects_continue() const;
    // The body ends when the connection closes (a response without length, RFC 9112 §6.3 p8).
    bool body_until_close() const;
    // The message asks to switch protocols (a request with `Connection: upgrade` and Upgrade)
    // or does so (a 101 response): once complete, the bytes after it are not HTTP/1.
    bool upgrade() const;
    // Message was complete at a stop; the body is fully consumed.
    bool complete() const {
        return complete_;
    }
    // The body is chunked (Transfer-Encoding: chunked).
    bool chunked() const;
    // What to send on for the body bytes the last feed() consumed (`consumed`): those bytes
    // as they are, or, for a chunked body, the chunks re-framed from what was parsed (sizes,
    // data, CRLFs; no extensions, no trailers). The next hop then reads exactly the framing
    // this parser read, however leniently llhttp took the original (it accepts any two
    // bytes after a chunk's data, so `1\r\nA\n10\r\n...` would otherwise reach an origin
    // that reads a 16-byte chunk there: a request smuggled past the relay). Valid until the
    // next feed().
    std::string_view body_out(std::string_view consumed);
    std::string_view error_reason() const {
        return error_;
    }

  private:
    friend struct http1_parser_state;
    std::unique_ptr<http1_parser_state> st_;
    message_head head_;
    std::size_t max_head_bytes_;
    bool no_body_ = false; // no body follows the head: expect_no_body(), or 1xx/204/304
    bool complete_ = false;
    bool chunked_ = false; // the head said chunked
    std::string error_;
    std::string framed_; // body_out() of a chunked body
};

} // namespace hoplens::proxy
