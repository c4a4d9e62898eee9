#pragma once
// A request or response head parsed from bytes, for tests of what the relay does with heads.

#include "proxy/http1_parser.hpp"

#include <doctest/doctest.h>

#include <string_view>

namespace hoplens::proxy::test {

// `p` keeps the head's storage: the result is a copy, valid on its own.
inline message_head head_of(std::string_view wire, http1_parser& p) {
    REQUIRE(p.feed(wire).status == parse_status::head_complete);
    return p.head();
}

} // namespace hoplens::proxy::test
