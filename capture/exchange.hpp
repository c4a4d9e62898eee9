#pragma once
// One HTTP/1 exchange as the reassembler sees it on the wire: what the HAR writer needs,
// nothing more. Times are the timestamps of the chunks that carried the bytes.

#include "capture/body_decoder.hpp"
#include "capture/capture.hpp"
#include "capture/websocket_frames.hpp"

#include <optional>
#include <string>
#include <vector>

namespace hoplens::capture {

struct header_field {
    std::string name;
    std::string value;
};

struct http_message {
    std::string version;               // "HTTP/1.1"
    std::vector<header_field> headers; // wire order, names as sent
    std::uint64_t head_bytes = 0;      // start line through the empty line
    std::uint64_t body_wire_bytes = 0; // after the head, chunk framing included
    std::optional<body_decoder> body;
    bool head_complete = false;
    bool complete = false;
    time_point first_byte;
    time_point last_byte;

    // First value of a header (case-insensitive name), or "".
    std::string_view header(std::string_view name) const;
    // True if a header `name` lists `token` (case-insensitive) among its comma-separated
    // elements, whatever parameters follow it after a ';' (RFC 9110 5.6.1).
    bool lists(std::string_view name, std::string_view token) const;
};

struct http_request : http_message {
    std::string method;
    std::string target; // as sent: origin-form or absolute-form
};

struct http_response : http_message {
    int status = 0;
    std::string reason;
    bool started = false;
};

// What a WebSocket carried after its handshake (RFC 6455), as devtools' HAR export lists it.
struct websocket_log {
    std::vector<websocket_message> messages; // data messages of both directions, in time order
    websocket_budget budget;                 // counts what the cap left out
    std::vector<std::string> problems;       // why decoding stopped, per direction
};

struct exchange {
    conn_id connection = 0;
    std::string scheme;
    std::string server_name;
    endpoint server;
    connect_timings timings; // of the upstream attach this exchange used first, else all -1
    http_request request;
    http_response response;
    time_point ended;    // when the record was closed (response end or connection end)
    std::string problem; // why it is incomplete; "" when complete
    std::optional<websocket_log> websocket; // the connection became a WebSocket after this 101
};

} // namespace hoplens::capture
