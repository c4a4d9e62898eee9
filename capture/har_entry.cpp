#include "capture/har_entry.hpp"

#include "capture/har_fields.hpp"
#include "capture/text_codec.hpp"

#include <boost/json/array.hpp>

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

boost::json::array headers_json(const http_message& m) {
    boost::json::array out;
    out.reserve(m.headers.size());
    for (const auto& h : m.headers) {
        out.push_back(boost::json::object{{"name", h.name}, {"value", h.value}});
    }
    return out;
}

struct body_text {
    std::string text;
    bool base64 = false;
};

// The kept bytes as JSON text: UTF-8 as is, anything else as base64. A capped body may end
// inside a UTF-8 sequence (at most 3 bytes of it): that tail is dropped rather than turning
// the whole body into base64.
body_text to_text(const body_decoder& b) {
    const std::string_view kept = b.kept();
    const std::size_t max_cut = b.truncated() ? 3 : 0;
    for (std::size_t cut = 0; cut <= max_cut && cut <= kept.size(); ++cut) {
        const auto prefix = kept.substr(0, kept.size() - cut);
        if (is_valid_utf8(prefix)) {
            return {std::string(prefix), false};
        }
    }
    return {base64_encode(kept), true};
}

std::string truncation_note(const char* what, const body_decoder& b) {
    if (!b.truncated()) {
        return {};
    }
    return std::string(what) + " body truncated to " + std::to_string(b.kept().size()) + " of " +
           std::to_string(b.size()) + " bytes";
}

void add_note(std::string& notes, const std::string& note) {
    if (note.empty()) {
        return;
    }
    notes += notes.empty() ? "" : "; ";
    notes += note;
}

boost::json::object request_json(const exchange& x, const std::string& url, std::string& notes) {
    const http_request& r = x.request;
    boost::json::object o{
        {"method", r.method.empty() ? "GET" : r.method},
        {"url", url},
        {"httpVersion", r.version.empty() ? "HTTP/1.1" : r.version},
        {"cookies", request_cookies(r)},
        {"headers", headers_json(r)},
        {"queryString", query_string(url)},
        {"headersSize", r.head_complete ? std::int64_t(r.head_bytes) : -1},
        {"bodySize", r.head_complete ? std::int64_t(r.body_wire_bytes) : -1},
    };
    if (r.body && r.body->size() > 0) {
        const std::string mime(r.header("content-type"));
        const body_text t = to_text(*r.body);
        boost::json::object post{{"mimeType", mime}, {"text", t.text}};
        if (t.base64) {
            post["comment"] = "text is base64: the body is not UTF-8";
        }
        if (mime.starts_with("application/x-www-form-urlencoded") && !t.base64) {
            post["params"] = form_params(t.text);
        }
        o["postData"] = std::move(post);
        add_note(notes, truncation_note("request", *r.body));
    }
    return o;
}

boost::json::object response_json(const exchange& x, std::string& notes) {
    const http_response& r = x.response;
    std::string mime(r.header("content-type"));
    boost::json::object content{{"size", 0}, {"mimeType", mime.empty() ? "x-unknown" : mime}};
    if (r.body) {
        const body_decoder& b = *r.body;
        content["size"] = std::int64_t(b.size());
        if (!b.decoded_coding().empty()) {
            // HAR: compression = bytes saved by the coding (negative when it grew the body).
            content["compression"] = std::int64_t(b.size()) - std::int64_t(b.wire_size());
        }
        const body_text t = to_text(b);
        content["text"] = t.text;
        if (t.base64) {
            content["encoding"] = "base64";
        }
        if (!b.problem().empty()) {
            content["comment"] = b.problem();
        }
        add_note(notes, truncation_note("response", b));
    }
    return boost::json::object{
        {"status", r.head_complete ? r.status : 0},
        {"statusText", r.reason},
        {"httpVersion", r.version},
        {"cookies", r.head_complete ? response_cookies(r, r.first_byte) : boost::json::array{}},
        {"headers", headers_json(r)},
        {"content", std::move(content)},
        {"redirectURL", std::string(r.header("location"))},
        {"headersSize", r.head_complete ? std::int64_t(r.head_bytes) : -1},
        {"bodySize", r.head_complete ? std::int64_t(r.body_wire_bytes) : -1},
    };
}

} // namespace

boost::json::object har_entry(const exchange& x, std::string_view pageref) {
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
    boost::json::object entry{
        {"pageref", pageref},
        {"startedDateTime", iso8601_utc_ms(x.request.first_byte - microseconds{before_us})},
        {"time", ms(total_us)},
        {"request", request_json(x, url, notes)},
        {"response", response_json(x, notes)},
        {"cache", boost::json::object{}},
        {"timings", boost::json::object{{"blocked", ms(c.blocked_us)},
                                        {"dns", ms(c.dns_us)},
                                        {"connect", ms(connect_us)},
                                        {"ssl", ms(c.ssl_us)},
                                        {"send", ms(send_us)},
                                        {"wait", ms(wait_us)},
                                        {"receive", ms(receive_us)}}},
        {"connection", std::to_string(x.connection)},
        {"_resourceType", resource_type(resp.header("content-type"))},
    };
    if (!x.server.address.empty()) {
        entry["serverIPAddress"] = bare_address(x.server.address);
    }
    if (!x.problem.empty()) {
        entry["_incomplete"] = true;
    }
    if (!notes.empty()) {
        entry["comment"] = notes;
    }
    return entry;
}

} // namespace hoplens::capture
