#include "proxy/http1_serialize.hpp"

#include "proxy/field_names.hpp"

#include <array>
#include <string>

namespace hoplens::proxy {

namespace {

// Calls fn(token) for each field name that Connection headers list (RFC 9110 §7.6.1).
template <typename F> void for_each_connection_option(const message_head& head, F fn) {
    for (std::size_t i = 0; i < head.field_count(); ++i) {
        const auto f = head.field_at(i);
        if (!iequals(f.name, "connection")) {
            continue;
        }
        for_each_list_element(f.value, fn);
    }
}

// The listed names, gathered once per message rather than once per field; a message listing
// more than fits is rare enough to be answered by scanning again.
class connection_options {
  public:
    explicit connection_options(const message_head& head) : head_(head) {
        for_each_connection_option(head, [this](std::string_view token) {
            if (count_ < names_.size()) {
                names_[count_++] = token;
            } else {
                overflow_ = true;
            }
        });
    }
    bool lists(std::string_view name) const {
        bool found = false;
        if (overflow_) {
            for_each_connection_option(head_, [&](std::string_view t) { found = found || iequals(t, name); });
            return found;
        }
        for (std::size_t i = 0; i < count_; ++i) {
            found = found || iequals(names_[i], name);
        }
        return found;
    }

  private:
    const message_head& head_;
    std::array<std::string_view, 8> names_;
    std::size_t count_ = 0;
    bool overflow_ = false;
};

bool is_hop_by_hop(const connection_options& listed, std::string_view name) {
    static constexpr std::array<std::string_view, 7> fixed{
        "connection",          "keep-alive",          "proxy-connection", "te",
        "upgrade",             "proxy-authorization", "proxy-authenticate"};
    for (auto f : fixed) {
        if (iequals(name, f)) {
            return true;
        }
    }
    return listed.lists(name);
}

void append_fields(std::string& out, const message_head& head, connection_field connection,
                   bool drop_expect, std::string_view host = {}) {
    const connection_options listed(head);
    if (!host.empty()) {
        out.append("Host: ").append(host).append("\r\n");
    }
    for (std::size_t i = 0; i < head.field_count(); ++i) {
        const auto f = head.field_at(i);
        if (is_hop_by_hop(listed, f.name) || (drop_expect && iequals(f.name, "expect")) ||
            (!host.empty() && iequals(f.name, "host"))) {
            continue;
        }
        out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    switch (connection) {
    case connection_field::keep_alive:
        break;
    case connection_field::close:
        out.append("Connection: close\r\n");
        break;
    case connection_field::websocket:
        // Only the protocol hoplens relays: a client's `Upgrade: websocket, h2c` must not
        // let an origin switch to one hoplens would tunnel without knowing it.
        out.append("Upgrade: websocket\r\nConnection: upgrade\r\n");
        break;
    }
    out.append("\r\n");
}

// The output's room in one allocation: the head as received, a little more for a changed
// target or `Connection: close`, and the start of a small body that the relay appends.
std::size_t head_room(const message_head& head) {
    return head.wire_size + 512;
}

void append_version(std::string& out, const message_head& head) {
    out.append("HTTP/");
    out.push_back(static_cast<char>('0' + head.version_major));
    out.push_back('.');
    out.push_back(static_cast<char>('0' + head.version_minor));
}

} // namespace

void serialize_request_head(const message_head& head, std::string_view target,
                            std::string_view host, connection_field connection, bool drop_expect,
                            std::string& out) {
    out.clear();
    out.reserve(head_room(head) + target.size() + host.size());
    out.append(head.method()).append(" ").append(target).append(" ");
    append_version(out, head);
    out.append("\r\n");
    append_fields(out, head, connection, drop_expect, host);
}

void serialize_response_head(const message_head& head, connection_field connection,
                             std::string& out) {
    out.clear();
    out.reserve(head_room(head));
    append_version(out, head);
    out.append(" ").append(std::to_string(head.status));
    out.append(" ").append(head.reason()).append("\r\n");
    append_fields(out, head, connection, false);
}

std::string make_error_response(int status, std::string_view reason, bool to_head) {
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
    if (!to_head) {
        out += body;
    }
    return out;
}

} // namespace hoplens::proxy
