#pragma once
// One exchange as a HAR 1.2 entry (http://www.softwareishard.com/blog/har-12-spec/), shaped
// for the importers of Chrome and Firefox devtools, which are stricter than the spec: every
// size and timing is a number, ssl is counted inside connect, serverIPAddress is bare.

#include "capture/exchange.hpp"

#include <string>
#include <string_view>

namespace hoplens::capture {

// Appends the entry (one JSON object) to `out`.
void write_har_entry(std::string& out, const exchange& x, std::string_view pageref);

} // namespace hoplens::capture
