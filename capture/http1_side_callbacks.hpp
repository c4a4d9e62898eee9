#pragma once
// Private to capture/: one direction's llhttp parser in http1_reassembler, and the llhttp
// callbacks that build its messages. Kept apart from http1_reassembler.cpp, which pairs those
// messages into exchanges.

#include "capture/http1_reassembler.hpp"

#include <llhttp.h>

#include <cstdint>
#include <string>

namespace hoplens::capture {

// One direction's parser. llhttp reports the end of a head and of a message without a
// position, so those callbacks pause the parser: llhttp_get_error_pos() then tells where they
// happened, which gives headersSize and bodySize exactly as they were on the wire.
struct http1_reassembler::side {
    enum class pause_reason { none, head_done, message_done };

    llhttp_t parser{};
    llhttp_settings_t settings{};
    http1_reassembler* owner = nullptr;
    direction dir = direction::client_to_server;
    time_point now;
    std::uint64_t chunk_base = 0;    // stream offset of the chunk being parsed
    std::uint64_t message_start = 0; // stream offset of the current message
    std::uint64_t head_end = 0;
    pause_reason paused = pause_reason::none;
    bool finishing = false; // inside llhttp_finish(): callbacks must not pause
    bool interim = false;   // the message just completed was a 1xx other than 101
    bool done = false;      // parse error or protocol upgrade: no more HTTP on this side
    std::string field;
    std::string value;
};

// A friend of http1_reassembler: the callbacks build the message it is parsing on each side.
struct side_callbacks {
    using side = http1_reassembler::side;

    // Starts s.parser afresh for `type` (HTTP_REQUEST or HTTP_RESPONSE), reporting to s.owner.
    static void init(side& s, llhttp_type_t type);

  private:
    static side& of(llhttp_t* p);
    static http_message& msg(llhttp_t* p);
    static int pause(side& s, side::pause_reason why);
    static int on_message_begin(llhttp_t* p);
    static int on_url(llhttp_t* p, const char* at, std::size_t n);
    static int on_status(llhttp_t* p, const char* at, std::size_t n);
    static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
    static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, std::size_t n);
    static int on_message_complete(llhttp_t* p);
};

} // namespace hoplens::capture
