#include "proxy/http1_parser.hpp"

#include "proxy/field_names.hpp"

#include <llhttp.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace hoplens::proxy {


std::string_view message_head::find(std::string_view name) const {
    for (const auto& f : fields_) {
        if (iequals(view(f.name), name)) {
            return view(f.value);
        }
    }
    return {};
}

void message_head::clear() {
    text_.clear();
    method_ = target_ = reason_ = span{};
    fields_.clear();
    status = 0;
    version_major = version_minor = 1;
    wire_size = 0;
}

void message_head::trim_field_names() {
    for (auto& f : fields_) {
        while (f.name.length > 0 &&
               (text_[f.name.offset + f.name.length - 1] == ' ' ||
                text_[f.name.offset + f.name.length - 1] == '\t')) {
            --f.name.length;
        }
    }
}

void message_head::append(span& piece, const char* at, std::size_t n) {
    if (piece.length == 0) {
        piece.offset = static_cast<std::uint32_t>(text_.size());
    }
    text_.append(at, n);
    piece.length += static_cast<std::uint32_t>(n);
}

// llhttp calls back with spans that may be split across feed() calls: each piece is appended
// until the next one starts.
struct http1_parser_state {
    llhttp_t parser{};
    llhttp_settings_t settings{};
    http1_parser* owner = nullptr;
    bool in_value = false;
    bool head_done = false;

    static http1_parser_state& of(llhttp_t* p) {
        return *static_cast<http1_parser_state*>(p->data);
    }
    static message_head& head(llhttp_t* p) {
        return of(p).owner->head_;
    }

    static int on_method(llhttp_t* p, const char* at, std::size_t n) {
        auto& h = head(p);
        h.append(h.method_, at, n);
        return 0;
    }
    static int on_url(llhttp_t* p, const char* at, std::size_t n) {
        auto& h = head(p);
        h.append(h.target_, at, n);
        return 0;
    }
    static int on_status(llhttp_t* p, const char* at, std::size_t n) {
        auto& h = head(p);
        h.append(h.reason_, at, n);
        return 0;
    }
    static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
        auto& s = of(p);
        auto& h = head(p);
        if (h.fields_.empty() || s.in_value) {
            h.fields_.emplace_back();
            s.in_value = false;
        }
        h.append(h.fields_.back().name, at, n);
        return 0;
    }
    static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
        auto& h = head(p);
        if (h.fields_.empty()) {
            return -1;
        }
        of(p).in_value = true;
        h.append(h.fields_.back().value, at, n);
        return 0;
    }
    static int on_headers_complete(llhttp_t* p) {
        auto& hd = head(p);
        hd.version_major = p->http_major;
        hd.version_minor = p->http_minor;
        hd.status = p->status_code;
        of(p).head_done = true;
        return HPE_PAUSED;
    }
    static int on_message_complete(llhttp_t* p) {
        of(p).owner->complete_ = true;
        return HPE_PAUSED;
    }

    // A chunked body is sent on re-framed from what was parsed (see body_out()): sizes in
    // hex, the data, CRLFs, a last chunk with no extensions and no trailers.
    static int on_chunk_header(llhttp_t* p) {
        std::string& out = of(p).owner->framed_;
        std::array<char, 16> hex{};
        const auto r = std::to_chars(hex.data(), hex.data() + hex.size(), p->content_length, 16);
        out.append(hex.data(), r.ptr).append("\r\n");
        return 0;
    }
    static int on_body(llhttp_t* p, const char* at, std::size_t n) {
        if ((p->flags & F_CHUNKED) != 0) {
            of(p).owner->framed_.append(at, n);
        }
        return 0;
    }
    static int on_chunk_complete(llhttp_t* p) {
        of(p).owner->framed_.append("\r\n"); // after the last chunk: the end of the trailers
        return 0;
    }
};

http1_parser::http1_parser(message_kind kind, std::size_t max_head_bytes)
    : st_(std::make_unique<http1_parser_state>()), max_head_bytes_(max_head_bytes) {
    auto& s = st_->settings;
    llhttp_settings_init(&s);
    s.on_method = &http1_parser_state::on_method;
    s.on_url = &http1_parser_state::on_url;
    s.on_status = &http1_parser_state::on_status;
    s.on_header_field = &http1_parser_state::on_header_field;
    s.on_header_value = &http1_parser_state::on_header_value;
    s.on_headers_complete = &http1_parser_state::on_headers_complete;
    s.on_message_complete = &http1_parser_state::on_message_complete;
    s.on_chunk_header = &http1_parser_state::on_chunk_header;
    s.on_body = &http1_parser_state::on_body;
    s.on_chunk_complete = &http1_parser_state::on_chunk_complete;
    llhttp_init(&st_->parser, kind == message_kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &s);
    st_->parser.data = st_.get();
    st_->owner = this;
}

http1_parser::~http1_parser() = default;

void message_head::release() {
    std::string().swap(text_);
    std::vector<field_spans>().swap(fields_);
    clear();
}

void http1_parser::release_memory() {
    head_.release();
    std::string().swap(error_);
    std::string().swap(framed_);
}

bool http1_parser::chunked() const {
    return chunked_;
}

std::string_view http1_parser::body_out(std::string_view consumed) {
    if (!chunked()) {
        return consumed;
    }
    return framed_;
}

namespace {

bool is_tchar(char c) { // RFC 9110 §5.6.2
    const auto u = static_cast<unsigned char>(c);
    return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// What llhttp (built loose, as Debian ships it) accepts but a relay must not pass on: a
// version this relay does not speak (the next hop would read the rest by other rules), a
// field name that is not a token (RFC 9110 §5.1: `Transfer Encoding` would be read as
// Transfer-Encoding by some), a target with a space or control byte (a next hop may split
// the request line there; bytes >= 0x80 pass, as curl sends UTF-8 raw), and
// Transfer-Encoding in HTTP/1.0, whose framing RFC 9112 §6.1 says to treat as faulty.
const char* head_problem(const message_head& head, const llhttp_t& p) {
    if (head.version_major != 1 || head.version_minor > 1) {
        return "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 only)";
    }
    // A response's names are held to less: what an origin sends, browsers take, and it is
    // rebuilt on its way to one client, who reads it alone.
    const bool request = p.type == HTTP_REQUEST;
    for (std::size_t i = 0; i < head.field_count(); ++i) {
        const auto name = head.field_at(i).name;
        const bool ok = request ? std::all_of(name.begin(), name.end(), is_tchar)
                                : std::none_of(name.begin(), name.end(), [](char c) {
                                      const auto u = static_cast<unsigned char>(c);
                                      return u <= 0x20 || u == 0x7f || c == ':';
                                  });
        if (name.empty() || !ok) {
            return "header field name that is not a token";
        }
    }
    for (const char c : head.target()) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return "space or control character in the request target";
        }
    }
    if (head.version_minor == 0 && (p.flags & F_TRANSFER_ENCODING) != 0) {
        return "Transfer-Encoding in an HTTP/1.0 message";
    }
    return nullptr;
}

} // namespace

void http1_parser::reset() {
    llhttp_reset(&st_->parser);
    st_->parser.data = st_.get();
    st_->in_value = false;
    st_->head_done = false;
    head_.clear();
    // A usual head in one allocation each, where release_memory() gave the last one back.
    head_.text_.reserve(512);
    head_.fields_.reserve(16);
    no_body_ = false;
    complete_ = false;
    chunked_ = false;
    error_.clear();
    framed_.clear();
}

parse_step http1_parser::feed(std::string_view bytes) {
    framed_.clear(); // the last step's body_out() has been sent on
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
            if (p.type == HTTP_RESPONSE) {
                head_.trim_field_names(); // RFC 9112 §5.1: a proxy removes `Name :`'s space
            }
            if (const char* problem = head_problem(head_, p)) {
                error_ = problem;
                return {parse_status::bad_message, 0};
            }
            // RFC 9112 §6.3: a response to HEAD, and 1xx/204/304, carries no body, whatever
            // its Content-Length or Transfer-Encoding say (llhttp 8 reads one for 204/304:
            // the bytes after such a head would be relayed as its body, the next response
            // smuggled in them).
            const int status = p.status_code;
            no_body_ = no_body_ || (p.type == HTTP_RESPONSE &&
                                    (status / 100 == 1 || status == 204 || status == 304));
            if (no_body_) {
                p.flags |= F_SKIPBODY;
            }
            // Taken from the head: llhttp clears its flag when a trailer field says
            // Transfer-Encoding, which would send the rest of the body on raw.
            chunked_ = !no_body_ && (p.flags & F_CHUNKED) != 0;
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

bool http1_parser::upgrade() const {
    return st_->parser.upgrade != 0;
}

bool http1_parser::expects_continue() const {
    return (head_.version_major > 1 || head_.version_minor >= 1) &&
           iequals(head_.find("expect"), "100-continue");
}

bool http1_parser::body_until_close() const {
    const auto& p = st_->parser;
    return p.type == HTTP_RESPONSE && st_->head_done && !no_body_ &&
           (p.flags & (F_CHUNKED | F_CONTENT_LENGTH)) == 0;
}

} // namespace hoplens::proxy
