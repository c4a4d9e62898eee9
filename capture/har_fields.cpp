#include "capture/har_fields.hpp"

#include "capture/text_codec.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace hoplens::capture {

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Calls f(piece) for each piece of `s` between separators.
template <typename F> void split(std::string_view s, char sep, F&& f) {
    while (true) {
        const auto pos = s.find(sep);
        f(s.substr(0, pos));
        if (pos == std::string_view::npos) {
            return;
        }
        s.remove_prefix(pos + 1);
    }
}

// "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 6265 5.1.1 in its common IMF-fixdate form) as a
// time point; false for other forms, which are then left out of the HAR.
bool parse_cookie_date(std::string_view s, utc_ms& out) {
    static constexpr std::array<std::string_view, 12> months = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    const auto comma = s.find(',');
    if (comma != std::string_view::npos) {
        s.remove_prefix(comma + 1);
    }
    std::string text(trim_ows(s));
    std::replace(text.begin(), text.end(), '-', ' ');
    int day = 0;
    int year = 0;
    int hh = 0;
    int mm = 0;
    int ss = 0;
    std::array<char, 4> mon{};
    if (std::sscanf(text.c_str(), "%d %3s %d %d:%d:%d", &day, mon.data(), &year, &hh, &mm, &ss) !=
        6) {
        return false;
    }
    const auto it = std::find_if(months.begin(), months.end(),
                                 [&](std::string_view m) { return iequals(m, mon.data()); });
    if (it == months.end() || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 0 ||
        year > 32767) { // std::chrono::year's range; printed clamped to 9999
        return false;
    }
    year += year < 70 ? 2000 : year < 100 ? 1900 : 0;
    using namespace std::chrono;
    const year_month_day ymd{std::chrono::year{year},
                             std::chrono::month{unsigned(it - months.begin() + 1)},
                             std::chrono::day{unsigned(day)}};
    if (!ymd.ok()) {
        return false;
    }
    out = sys_days{ymd} + hours{hh} + minutes{mm} + seconds{ss};
    return true;
}

} // namespace

std::string request_url(const exchange& x) {
    const std::string& target = x.request.target;
    if (starts_with_ci(target, "http://") || starts_with_ci(target, "https://")) {
        return target;
    }
    const std::string scheme = x.scheme.empty() ? "http" : x.scheme;
    std::string host(x.request.header("host"));
    if (host.empty()) {
        host = x.server_name;
    }
    if (host.empty()) {
        const bool v6 = x.server.address.find(':') != std::string::npos;
        host = v6 ? "[" + x.server.address + "]" : x.server.address;
        const std::uint16_t default_port = scheme == "https" ? 443 : 80;
        if (x.server.port != 0 && x.server.port != default_port) {
            host.append(":").append(std::to_string(x.server.port));
        }
    }
    std::string url = scheme;
    url.append("://").append(host);
    if (target.empty() || target[0] != '/') {
        url += '/'; // "*" (OPTIONS, RFC 9112 3.2.4) and an empty target name the server
    }
    if (target != "*") {
        url += target;
    }
    return url;
}

void form_params(json_writer& w, std::string_view query_or_body) {
    w.begin_array();
    split(query_or_body, '&', [&](std::string_view pair) {
        if (pair.empty()) {
            return;
        }
        const auto eq = pair.find('=');
        const auto name = pair.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        w.begin_object();
        w.member("name", percent_decode(name, true));
        w.member("value", percent_decode(value, true));
        w.end_object();
    });
    w.end_array();
}

void query_string(json_writer& w, std::string_view url) {
    const auto q = url.find('?');
    if (q == std::string_view::npos) {
        w.begin_array();
        w.end_array();
        return;
    }
    auto query = url.substr(q + 1);
    query = query.substr(0, query.find('#'));
    form_params(w, query);
}

void request_cookies(json_writer& w, const http_message& m) {
    w.begin_array();
    for (const auto& h : m.headers) {
        if (!iequals(h.name, "cookie")) {
            continue;
        }
        split(h.value, ';', [&](std::string_view pair) {
            pair = trim_ows(pair);
            const auto eq = pair.find('=');
            if (pair.empty() || eq == std::string_view::npos) {
                return;
            }
            w.begin_object();
            w.member("name", trim_ows(pair.substr(0, eq)));
            w.member("value", trim_ows(pair.substr(eq + 1)));
            w.end_object();
        });
    }
    w.end_array();
}

namespace {

// The attributes of one Set-Cookie in the order they first appeared, a repeated one keeping
// its place with the last value (as a JSON object assigned key by key would).
class cookie_attributes {
  public:
    void set(std::string_view key, std::string text) {
        find(key) = {key, std::move(text), false};
    }
    void set_flag(std::string_view key) {
        find(key) = {key, {}, true};
    }
    void write(json_writer& w) const {
        for (const auto& a : attrs_) {
            if (a.flag) {
                w.member(a.key, true);
            } else {
                w.member(a.key, a.text);
            }
        }
    }

  private:
    struct attr {
        std::string_view key; // one of the literals below
        std::string text;
        bool flag = false;
    };
    attr& find(std::string_view key) {
        for (auto& a : attrs_) {
            if (a.key == key) {
                return a;
            }
        }
        return attrs_.emplace_back();
    }
    std::vector<attr> attrs_;
};

} // namespace

void response_cookies(json_writer& w, const http_message& m, time_point received) {
    w.begin_array();
    for (const auto& h : m.headers) {
        if (!iequals(h.name, "set-cookie")) {
            continue;
        }
        std::string_view rest = h.value;
        const auto semi = rest.find(';');
        const auto pair = trim_ows(rest.substr(0, semi));
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) {
            continue; // RFC 6265 5.2 step 2: no '=' means ignore the whole line
        }
        cookie_attributes attrs;
        bool has_max_age = false; // Max-Age wins over Expires (RFC 6265 5.3 step 3)
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        split(rest, ';', [&](std::string_view attr) {
            attr = trim_ows(attr);
            const auto aeq = attr.find('=');
            const auto key = trim_ows(attr.substr(0, aeq));
            const auto val =
                aeq == std::string_view::npos ? std::string_view{} : trim_ows(attr.substr(aeq + 1));
            utc_ms when;
            if (iequals(key, "path") || iequals(key, "domain")) {
                attrs.set(iequals(key, "path") ? "path" : "domain", std::string(val));
            } else if (iequals(key, "httponly")) {
                attrs.set_flag("httpOnly");
            } else if (iequals(key, "secure")) {
                attrs.set_flag("secure");
            } else if (iequals(key, "max-age") && !val.empty() && !has_max_age) {
                char* end = nullptr;
                const std::string v(val);
                // Past ~30,000 years either way the date is clamped anyway (iso8601_utc_ms);
                // bounding the seconds first keeps the sum from overflowing.
                constexpr long long bound = 1'000'000'000'000LL;
                const long long secs = std::clamp(std::strtoll(v.c_str(), &end, 10), -bound, bound);
                if (end != nullptr && *end == '\0') {
                    const auto at = std::chrono::time_point_cast<std::chrono::milliseconds>(received);
                    attrs.set("expires", iso8601_utc_ms(at + std::chrono::seconds{secs}));
                    has_max_age = true;
                }
            } else if (iequals(key, "expires") && !has_max_age && parse_cookie_date(val, when)) {
                attrs.set("expires", iso8601_utc_ms(when));
            }
        });
        w.begin_object();
        w.member("name", trim_ows(pair.substr(0, eq)));
        w.member("value", trim_ows(pair.substr(eq + 1)));
        attrs.write(w);
        w.end_object();
    }
    w.end_array();
}

std::string resource_type(std::string_view content_type) {
    std::string t(trim_ows(content_type.substr(0, content_type.find(';'))));
    std::transform(t.begin(), t.end(), t.begin(), ascii_lower);
    auto has = [&](std::string_view s) { return t.find(s) != std::string::npos; };
    if (t == "text/html" || t == "application/xhtml+xml") {
        return "document";
    }
    if (t == "text/css") {
        return "stylesheet";
    }
    if (has("javascript") || has("ecmascript")) {
        return "script";
    }
    if (t.starts_with("image/")) {
        return "image";
    }
    if (t.starts_with("font/") || has("font-woff") || has("font-sfnt")) {
        return "font";
    }
    if (t.starts_with("audio/") || t.starts_with("video/")) {
        return "media";
    }
    if (t == "text/event-stream") {
        return "eventsource";
    }
    if (t == "application/manifest+json") {
        return "manifest";
    }
    if (has("json") || has("xml")) {
        return "fetch";
    }
    return "other";
}

std::string bare_address(std::string_view address) {
    if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    address = address.substr(0, address.find('%'));
    if (starts_with_ci(address, "::ffff:") && address.find('.') != std::string_view::npos) {
        address.remove_prefix(7);
    }
    return std::string(address);
}

} // namespace hoplens::capture
