#pragma once
// The parts of a HAR entry derived from header values and URLs: cookies, query strings,
// form parameters, the URL itself and devtools' resource type. Pure functions.

#include "capture/capture.hpp"
#include "capture/exchange.hpp"

#include "capture/json_writer.hpp"

#include <string>
#include <string_view>

namespace hoplens::capture {

// The request URL as devtools shows it: absolute-form targets as sent, otherwise
// scheme://Host + target (RFC 9112 3.3), falling back to the server name or address.
std::string request_url(const exchange& x);

// Each writes one JSON array into `w`.
// [{name, value}] from `a=1&b=2` (percent- and '+'-decoded).
void form_params(json_writer& w, std::string_view query_or_body);
void query_string(json_writer& w, std::string_view url);

// HAR cookies from every Cookie header (RFC 6265 5.4) of a request.
void request_cookies(json_writer& w, const http_message& m);
// HAR cookies from every Set-Cookie header (RFC 6265 5.2); Max-Age is made absolute with
// `received` (RFC 6265 5.2.2).
void response_cookies(json_writer& w, const http_message& m, time_point received);

// devtools' resource type ("document", "script", ...) for a Content-Type value.
std::string resource_type(std::string_view content_type);

// An address as HAR's serverIPAddress wants it: bare, and IPv4-mapped IPv6 as IPv4.
std::string bare_address(std::string_view address);

} // namespace hoplens::capture
