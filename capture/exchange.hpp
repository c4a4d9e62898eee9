#pragma once
// One HTTP/1 exchange as the reassembler sees it on the wire: what the HAR writer needs,
// nothing more. Times are the timestamps of the chunks that carried the bytes.

#include "capture/body_decoder.hpp"
#include "capture/capture.hpp"

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
};

} // namespace hoplens::capture
