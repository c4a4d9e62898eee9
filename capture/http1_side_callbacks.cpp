#include "capture/http1_side_callbacks.hpp"

namespace hoplens::capture {

side_callbacks::side& side_callbacks::of(llhttp_t* p) {
    return *static_cast<side*>(p->data);
}

http_message& side_callbacks::msg(llhttp_t* p) {
    side& s = of(p);
    return *s.owner->current(s.dir);
}

int side_callbacks::pause(side& s, side::pause_reason why) {
    s.paused = why;
    return s.finishing ? 0 : HPE_PAUSED;
}

int side_callbacks::on_message_begin(llhttp_t* p) {
    side& s = of(p);
    http1_reassembler& r = *s.owner;
    if (s.dir == direction::client_to_server) {
        r.on_request_begin(s.now);
        return 0;
    }
    // A response that begins before its request is an orphan to its end, even if a
    // request arrives while its body is still coming.
    r.response_is_orphan_ = r.responses_started_ >= r.in_flight_.size();
    if (r.response_is_orphan_) {
        r.orphan_ = http_response{};
    }
    auto& resp = static_cast<http_response&>(msg(p));
    if (!resp.started) {
        resp.started = true;
        resp.first_byte = s.now;
    }
    return 0;
}

int side_callbacks::on_url(llhttp_t* p, const char* at, std::size_t n) {
    of(p).owner->in_flight_.back().request.target.append(at, n);
    return 0;
}

int side_callbacks::on_status(llhttp_t* p, const char* at, std::size_t n) {
    static_cast<http_response&>(msg(p)).reason.append(at, n);
    return 0;
}

// Trailer fields (after a chunked body) reach these callbacks too. They are not kept:
// the relay bounds a head's size but streams a body's trailers, so keeping them would
// let a peer grow this memory without limit, and HAR has no place for them (headersSize
// counts the head alone).
int side_callbacks::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    if (!msg(p).head_complete) {
        of(p).field.append(at, n);
    }
    return 0;
}

int side_callbacks::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    if (!msg(p).head_complete) {
        of(p).value.append(at, n);
    }
    return 0;
}

int side_callbacks::on_header_value_complete(llhttp_t* p) {
    side& s = of(p);
    if (msg(p).head_complete) {
        return 0;
    }
    auto& headers = msg(p).headers;
    if (headers.empty()) {
        headers.reserve(16); // room for a typical head at once, not after four regrowths
    }
    headers.push_back({std::move(s.field), std::move(s.value)});
    s.field.clear();
    s.value.clear();
    return 0;
}

int side_callbacks::on_headers_complete(llhttp_t* p) {
    side& s = of(p);
    http_message& m = msg(p);
    m.version = "HTTP/" + std::to_string(p->http_major) + "." + std::to_string(p->http_minor);
    m.head_complete = true;
    m.body.emplace(m.header("content-encoding"), s.owner->body_cap_bytes_);
    if (s.dir == direction::client_to_server) {
        static_cast<http_request&>(m).method =
            llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    } else {
        static_cast<http_response&>(m).status = p->status_code;
        http1_reassembler& r = *s.owner;
        // RFC 9110 6.4.1: a response to HEAD, a 1xx, 204 or 304 has no body whatever its
        // framing headers say (llhttp would read a 304's Content-Length as a body).
        const int status = p->status_code;
        const bool head = !r.response_is_orphan_ && r.responses_started_ < r.in_flight_.size() &&
                          r.in_flight_[r.responses_started_].request.method == "HEAD";
        if (head || (status >= 100 && status < 200 && status != 101) || status == 204 ||
            status == 304) {
            p->flags |= F_SKIPBODY;
        }
    }
    return pause(s, side::pause_reason::head_done);
}

int side_callbacks::on_body(llhttp_t* p, const char* at, std::size_t n) {
    msg(p).body->feed({at, n});
    return 0;
}

int side_callbacks::on_message_complete(llhttp_t* p) {
    side& s = of(p);
    http_message& m = msg(p);
    m.complete = true;
    m.last_byte = s.now;
    s.interim = s.dir == direction::server_to_client && p->status_code >= 100 &&
                p->status_code < 200 && p->status_code != 101;
    return pause(s, side::pause_reason::message_done);
}

void side_callbacks::init(side& s, llhttp_type_t type) {
    using cb = side_callbacks;
    llhttp_settings_init(&s.settings);
    s.settings.on_message_begin = cb::on_message_begin;
    s.settings.on_url = cb::on_url;
    s.settings.on_status = cb::on_status;
    s.settings.on_header_field = cb::on_header_field;
    s.settings.on_header_value = cb::on_header_value;
    s.settings.on_header_value_complete = cb::on_header_value_complete;
    s.settings.on_headers_complete = cb::on_headers_complete;
    s.settings.on_body = cb::on_body;
    s.settings.on_message_complete = cb::on_message_complete;
    llhttp_init(&s.parser, type, &s.settings);
    // The relay keeps a connection open after an HTTP/1.0 message or one that says
    // Connection: close when it forwards it on a kept-alive leg (it rewrites the hop-by-hop
    // headers), so what follows on the stream is more HTTP, not bytes after the end.
    llhttp_set_lenient_keep_alive(&s.parser, 1);
    s.parser.data = &s;
}

} // namespace hoplens::capture
