#include "capture/har_entry.hpp"

#include "capture/har_fields.hpp"
#include "capture/text_codec.hpp"

#include <algorithm>

namespace hoplens::capture {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

std::int64_t us_between(time_point from, time_point to) {
    return std::max<std::int64_t>(0, duration_cast<microseconds>(to - from).count());
}

double ms(std::int64_t us) {
    return us < 0 ? -1.0 : double(us) / 1000.0;
}

void headers_json(json_writer& w, const http_message& m) {
    w.begin_array();
    for (const auto& h : m.headers) {
        w.begin_object();
        w.member("name", h.name);
        w.member("value", h.value);
        w.end_object();
    }
    w.end_array();
}

// The kept bytes as HAR text: UTF-8 as is, anything else as base64. A capped body may end
// inside a UTF-8 sequence (at most 3 bytes of it): that tail is dropped rather than turning
// the whole body into base64.
struct body_text {
    std::string_view bytes;
    bool base64 = false;
};

body_text to_text(const body_decoder& b) {
    const std::string_view kept = b.kept();
    const std::size_t max_cut = b.truncated() ? 3 : 0;
    for (std::size_t cut = 0; cut <= max_cut && cut <= kept.size(); ++cut) {
        const auto prefix = kept.substr(0, kept.size() - cut);
        if (is_valid_utf8(prefix)) {
            return {prefix, false};
        }
    }
    return {kept, true};
}

void text_member(json_writer& w, const body_text& text) {
    w.key("text");
    if (text.base64) {
        w.value_base64(text.bytes);
    } else {
        w.value(text.bytes);
    }
}

std::string truncation_note(const char* what, const body_decoder& b) {
    if (!b.truncated()) {
        return {};
    }
    return std::string(what) + " body truncated to " + std::to_string(b.kept().size()) + " of " +
           (b.size_is_lower_bound() ? "at least " : "") + std::to_string(b.size()) +
           (b.size_is_lower_bound() ? " bytes (decoding stops counting there)" : " bytes");
}

void add_note(std::string& notes, const std::string& note) {
    if (note.empty()) {
        return;
    }
    notes += notes.empty() ? "" : "; ";
    notes += note;
}

void request_json(json_writer& w, const exchange& x, const std::string& url, std::string& notes) {
    const http_request& r = x.request;
    w.begin_object();
    w.member("method", r.method.empty() ? "GET" : std::string_view(r.method));
    w.member("url", url);
    w.member("httpVersion", r.version.empty() ? "HTTP/1.1" : std::string_view(r.version));
    w.key("cookies");
    request_cookies(w, r);
    w.key("headers");
    headers_json(w, r);
    w.key("queryString");
    query_string(w, url);
    w.member("headersSize", r.head_complete ? std::int64_t(r.head_bytes) : -1);
    w.member("bodySize", r.head_complete ? std::int64_t(r.body_wire_bytes) : -1);
    if (r.body && r.body->size() > 0) {
        const std::string_view mime = r.header("content-type");
        const body_text text = to_text(*r.body);
        w.key("postData");
        w.begin_object();
        w.member("mimeType", mime);
        text_member(w, text);
        if (text.base64) {
            w.member("comment", "text is base64: the body is not UTF-8");
        }
        if (mime.starts_with("application/x-www-form-urlencoded") && !text.base64) {
            w.key("params");
            form_params(w, text.bytes);
        }
        w.end_object();
        add_note(notes, truncation_note("request", *r.body));
    }
    w.end_object();
}

void content_json(json_writer& w, const http_response& r, std::string& notes) {
    const std::string_view mime = r.header("content-type");
    w.begin_object();
    w.member("size", r.body ? std::int64_t(r.body->size()) : 0);
    w.member("mimeType", mime.empty() ? "x-unknown" : mime);
    if (r.body) {
        const body_decoder& b = *r.body;
        if (!b.decoded_coding().empty()) {
            // HAR: compression = bytes saved by the coding (negative when it grew the body).
            w.member("compression", std::int64_t(b.size()) - std::int64_t(b.wire_size()));
        }
        const body_text text = to_text(b);
        text_member(w, text);
        if (text.base64) {
            w.member("encoding", "base64");
        }
        if (!b.problem().empty()) {
            w.member("comment", b.problem());
        }
        add_note(notes, truncation_note("response", b));
    }
    w.end_object();
}

void response_json(json_writer& w, const exchange& x, std::string& notes) {
    const http_response& r = x.response;
    w.begin_object();
    w.member("status", r.head_complete ? r.status : 0);
    w.member("statusText", r.reason);
    w.member("httpVersion", r.version);
    w.key("cookies");
    if (r.head_complete) {
        response_cookies(w, r, r.first_byte);
    } else {
        w.begin_array();
        w.end_array();
    }
    w.key("headers");
    headers_json(w, r);
    w.key("content");
    content_json(w, r, notes);
    w.member("redirectURL", r.header("location"));
    w.member("headersSize", r.head_complete ? std::int64_t(r.head_bytes) : -1);
    w.member("bodySize", r.head_complete ? std::int64_t(r.body_wire_bytes) : -1);
    w.end_object();
}

// As Chrome's devtools export them: data messages only (no close, ping or pong), "time" in
// seconds since the Unix epoch, binary data in base64.
void websocket_json(json_writer& w, const websocket_log& log, std::string& notes) {
    w.key("_webSocketMessages");
    w.begin_array();
    for (const websocket_message& m : log.messages) {
        w.begin_object();
        w.member("type", m.dir == direction::client_to_server ? "send" : "receive");
        w.member("time", std::chrono::duration<double>(m.at.time_since_epoch()).count());
        w.member("opcode", int(m.opcode));
        w.key("data");
        if (m.opcode == 1) {
            w.value(m.data);
        } else {
            w.value_base64(m.data);
        }
        w.end_object();
    }
    w.end_array();
    const websocket_budget& b = log.budget;
    if (b.messages_left_out > 0) {
        add_note(notes, "WebSocket messages past the body size limit, not kept: " +
                            std::to_string(b.messages_left_out) + " (" +
                            std::to_string(b.bytes_left_out) + " payload bytes)");
    }
    for (const std::string& problem : log.problems) {
        add_note(notes, problem);
    }
}

} // namespace

void write_har_entry(std::string& out, const exchange& x, std::string_view pageref) {
    const connect_timings& c = x.timings;
    // HAR 1.2 and Chrome: ssl is part of connect.
    const std::int64_t connect_us =
        c.connect_us < 0 ? -1 : c.connect_us + std::max<std::int64_t>(0, c.ssl_us);
    const time_point req_end = x.request.complete ? x.request.last_byte : x.ended;
    const http_response& resp = x.response;
    const std::int64_t send_us = us_between(x.request.first_byte, req_end);
    const std::int64_t wait_us = us_between(req_end, resp.started ? resp.first_byte : x.ended);
    const std::int64_t receive_us =
        resp.started ? us_between(resp.first_byte, resp.complete ? resp.last_byte : x.ended) : 0;
    const std::int64_t before_us = std::max<std::int64_t>(0, c.blocked_us) +
                                   std::max<std::int64_t>(0, c.dns_us) +
                                   std::max<std::int64_t>(0, connect_us);
    const std::int64_t total_us = before_us + send_us + wait_us + receive_us;

    std::string notes = x.problem.empty() ? "" : "incomplete: " + x.problem;
    const std::string url = request_url(x);
    json_writer w(out);
    w.begin_object();
    w.member("pageref", pageref);
    w.member("startedDateTime", iso8601_utc_ms(x.request.first_byte - microseconds{before_us}));
    w.member("time", ms(total_us));
    w.key("request");
    request_json(w, x, url, notes);
    w.key("response");
    response_json(w, x, notes);
    w.key("cache");
    w.begin_object();
    w.end_object();
    w.key("timings");
    w.begin_object();
    w.member("blocked", ms(c.blocked_us));
    w.member("dns", ms(c.dns_us));
    w.member("connect", ms(connect_us));
    w.member("ssl", ms(c.ssl_us));
    w.member("send", ms(send_us));
    w.member("wait", ms(wait_us));
    w.member("receive", ms(receive_us));
    w.end_object();
    w.member("connection", std::to_string(x.connection));
    if (x.websocket) {
        w.member("_resourceType", "websocket");
        websocket_json(w, *x.websocket, notes);
    } else {
        w.member("_resourceType", resource_type(resp.header("content-type")));
    }
    if (!x.server.address.empty()) {
        w.member("serverIPAddress", bare_address(x.server.address));
    }
    if (!x.problem.empty()) {
        w.member("_incomplete", true);
    }
    if (!notes.empty()) {
        w.member("comment", notes);
    }
    w.end_object();
}

} // namespace hoplens::capture
