#include "proxy/http1_parser.hpp"

#include <llhttp.h>

#include <algorithm>
#include <array>

namespace hoplens::proxy {

namespace {

// Field names are ASCII (RFC 9110 §5.1): no locale, and unequal lengths end it at once.
// Every header of every message goes through here several times.
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if ((a[i] | 0x20) != (b[i] | 0x20)) {
            return false;
        }
        const char c = static_cast<char>(a[i] | 0x20);
        if ((c < 'a' || c > 'z') && a[i] != b[i]) {
            return false; // only letters may differ in case
        }
    }
    return true;
}

} // namespace

std::string_view message_head::find(std::string_view name) const {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) {
            return h.value;
        }
    }
    return {};
}

// llhttp calls back with spans that may be split across feed() calls: field names and
// values are appended until the next field starts.
struct http1_parser::state {
    llhttp_t parser{};
    llhttp_settings_t settings{};
    http1_parser* owner = nullptr;
    bool in_value = false;
    bool head_done = false;

    static state& of(llhttp_t* p) {
        return *static_cast<state*>(p->data);
    }
    static message_head& head(llhttp_t* p) {
        return of(p).owner->head_;
    }

    static int on_method(llhttp_t* p, const char* at, std::size_t n) {
        head(p).method.append(at, n);
        return 0;
    }
    static int on_url(llhttp_t* p, const char* at, std::size_t n) {
        head(p).target.append(at, n);
        return 0;
    }
    static int on_status(llhttp_t* p, const char* at, std::size_t n) {
        head(p).reason.append(at, n);
        return 0;
    }
    static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
        auto& s = of(p);
        auto& h = head(p).headers;
        if (h.empty() || s.in_value) {
            h.emplace_back();
            s.in_value = false;
        }
        h.back().name.append(at, n);
        return 0;
    }
    static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
        auto& s = of(p);
        auto& h = head(p).headers;
        if (h.empty()) {
            return -1;
        }
        s.in_value = true;
        h.back().value.append(at, n);
        return 0;
    }
    static int on_headers_complete(llhttp_t* p) {
        auto& s = of(p);
        auto& hd = head(p);
        hd.version_major = p->http_major;
        hd.version_minor = p->http_minor;
        hd.status = p->status_code;
        s.head_done = true;
        return HPE_PAUSED;
    }
    static int on_message_complete(llhttp_t* p) {
        of(p).owner->complete_ = true;
        return HPE_PAUSED;
    }
};

http1_parser::http1_parser(message_kind kind, std::size_t max_head_bytes)
    : st_(std::make_unique<state>()), max_head_bytes_(max_head_bytes) {
    auto& s = st_->settings;
    llhttp_settings_init(&s);
    s.on_method = &state::on_method;
    s.on_url = &state::on_url;
    s.on_status = &state::on_status;
    s.on_header_field = &state::on_header_field;
    s.on_header_value = &state::on_header_value;
    s.on_headers_complete = &state::on_headers_complete;
    s.on_message_complete = &state::on_message_complete;
    llhttp_init(&st_->parser, kind == message_kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &s);
    st_->parser.data = st_.get();
    st_->owner = this;
}

http1_parser::~http1_parser() = default;

void http1_parser::reset() {
    llhttp_reset(&st_->parser);
    st_->parser.data = st_.get();
    st_->in_value = false;
    st_->head_done = false;
    head_ = message_head{};
    no_body_ = false;
    complete_ = false;
    error_.clear();
}

parse_step http1_parser::feed(std::string_view bytes) {
    auto& p = st_->parser;
    const bool was_in_head = !st_->head_done;
    const llhttp_errno_t rc = llhttp_execute(&p, bytes.data(), bytes.size());
    std::size_t consumed = bytes.size();
    if (rc == HPE_PAUSED) {
        consumed = static_cast<std::size_t>(llhttp_get_error_pos(&p) - bytes.data());
        llhttp_resume(&p);
    } else if (rc != HPE_OK) {
        error_ = llhttp_get_error_reason(&p) ? llhttp_get_error_reason(&p) : llhttp_errno_name(rc);
        return {parse_status::bad_message, 0};
    }
    if (was_in_head) {
        head_.wire_size += consumed;
        if (head_.wire_size > max_head_bytes_) {
            error_ = "request head larger than " + std::to_string(max_head_bytes_) + " bytes";
            return {parse_status::head_too_large, 0};
        }
        if (st_->head_done) {
            // RFC 9112 §6.3: a response to HEAD, and 1xx/204/304, carries no body.
            if (no_body_) {
                p.flags |= F_SKIPBODY;
            }
            return {parse_status::head_complete, consumed};
        }
    }
    if (complete_) {
        return {parse_status::message_complete, consumed};
    }
    return {parse_status::need_more, consumed};
}

parse_status http1_parser::finish() {
    if (complete_) {
        return parse_status::message_complete;
    }
    const llhttp_errno_t rc = llhttp_finish(&st_->parser);
    if (rc == HPE_OK || rc == HPE_PAUSED) {
        if (complete_ || body_until_close()) {
            complete_ = true;
            return parse_status::message_complete;
        }
    }
    error_ = "connection closed in the middle of a message";
    return parse_status::bad_message;
}

bool http1_parser::keep_alive() const {
    return llhttp_should_keep_alive(&st_->parser) != 0;
}

bool http1_parser::expects_continue() const {
    return (head_.version_major > 1 || head_.version_minor >= 1) &&
           iequals(head_.find("expect"), "100-continue");
}

bool http1_parser::chunked() const {
    return (st_->parser.flags & F_CHUNKED) != 0;
}

bool http1_parser::body_until_close() const {
    const auto& p = st_->parser;
    return p.type == HTTP_RESPONSE && st_->head_done && !no_body_ &&
           (p.flags & (F_CHUNKED | F_CONTENT_LENGTH)) == 0 && p.status_code != 204 &&
           p.status_code != 304 && p.status_code >= 200;
}

namespace {

bool connection_lists(const message_head& head, std::string_view name) {
    for (const auto& h : head.headers) {
        if (!iequals(h.name, "connection")) {
            continue;
        }
        std::string_view v = h.value;
        while (!v.empty()) {
            const auto comma = v.find(',');
            std::string_view token = v.substr(0, comma);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
                token.remove_prefix(1);
            }
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
                token.remove_suffix(1);
            }
            if (iequals(token, name)) {
                return true;
            }
            if (comma == std::string_view::npos) {
                break;
            }
            v.remove_prefix(comma + 1);
        }
    }
    return false;
}

bool is_hop_by_hop(const message_head& head, std::string_view name) {
    static constexpr std::array<std::string_view, 7> fixed{
        "connection",          "keep-alive",         "proxy-connection", "te",
        "upgrade",             "proxy-authorization", "proxy-authenticate"};
    for (auto f : fixed) {
        if (iequals(name, f)) {
            return true;
        }
    }
    return connection_lists(head, name);
}

void append_fields(std::string& out, const message_head& head, bool close, bool drop_expect) {
    for (const auto& h : head.headers) {
        if (is_hop_by_hop(head, h.name) || (drop_expect && iequals(h.name, "expect"))) {
            continue;
        }
        out.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    if (close) {
        out.append("Connection: close\r\n");
    }
    out.append("\r\n");
}

std::string version_text(const message_head& head) {
    return "HTTP/" + std::to_string(head.version_major) + "." + std::to_string(head.version_minor);
}

} // namespace

std::string serialize_request_head(const message_head& head, std::string_view target, bool close,
                                   bool drop_expect) {
    std::string out;
    out.reserve(head.wire_size + 32);
    out.append(head.method).append(" ").append(target).append(" ").append(version_text(head));
    out.append("\r\n");
    append_fields(out, head, close, drop_expect);
    return out;
}

std::string serialize_response_head(const message_head& head, bool close) {
    std::string out;
    out.reserve(head.wire_size + 32);
    out.append(version_text(head)).append(" ").append(std::to_string(head.status));
    out.append(" ").append(head.reason).append("\r\n");
    append_fields(out, head, close, false);
    return out;
}

} // namespace hoplens::proxy

namespace hoplens::proxy {

std::string make_error_response(int status, std::string_view reason) {
    std::string_view text = "Error";
    switch (status) {
    case 400: text = "Bad Request"; break;
    case 403: text = "Forbidden"; break;
    case 408: text = "Request Timeout"; break;
    case 431: text = "Request Header Fields Too Large"; break;
    case 502: text = "Bad Gateway"; break;
    case 504: text = "Gateway Timeout"; break;
    case 508: text = "Loop Detected"; break;
    default: break;
    }
    std::string body(reason);
    body.push_back('\n');
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(text) + "\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size());
    out += "\r\nConnection: close\r\nServer: hoplens\r\n\r\n";
    out += body;
    return out;
}

} // namespace hoplens::proxy
