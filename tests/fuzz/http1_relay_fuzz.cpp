// Fuzzes the relay's HTTP/1 parser the way proxy/ uses it on untrusted bytes from a client or
// an origin: a head, rebuilt (http1_serialize), then the body sent on as body_out() gives
// it. Besides no crash (ASan, UBSan), two invariants that a smuggled message would break:
// - what is sent on reads back, with a fresh parser, as one whole message that ends exactly
//   where the sent bytes end, and whose body_out() is the same again (the next hop frames
//   the message as hoplens did);
// - the result does not depend on how the bytes were split between reads.
// The first input byte picks a request or a response and the split point.
#include "proxy/http1_serialize.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cctype>
#include <string>
#include <string_view>

using hoplens::fuzz::check;
using namespace hoplens::proxy;

namespace {

// A chunked body as RFC 9112 §7.1 writes it, read with no leniency at all: hex sizes, CRLFs,
// a last chunk and an empty trailer section, nothing after. What hoplens sends must read
// so, whatever llhttp tolerated on the way in (it once forwarded `A\n10` as a chunk end).
bool canonical_chunked(std::string_view b) {
    for (;;) {
        std::size_t size = 0;
        std::size_t digits = 0;
        while (digits < b.size() && std::isxdigit(static_cast<unsigned char>(b[digits])) != 0) {
            size = size * 16 + std::size_t(std::stoul(std::string(1, b[digits]), nullptr, 16));
            ++digits;
        }
        if (digits == 0 || digits > 15 || b.substr(digits, 2) != "\r\n") {
            return false;
        }
        b.remove_prefix(digits + 2);
        if (size == 0) {
            return b == "\r\n";
        }
        if (b.size() < size + 2 || b.substr(size, 2) != "\r\n") {
            return false;
        }
        b.remove_prefix(size + 2);
    }
}

struct relayed {
    bool complete = false; // the message ended (a body until close does not, here)
    bool chunked = false;
    std::string head;      // as sent on
    std::string body;      // body_out() of every step
};

// What the relay sends on for `wire` fed in two reads split at `split`.
relayed relay(message_kind kind, std::string_view wire, std::size_t split) {
    relayed out;
    http1_parser p(kind, 16 * 1024);
    std::string_view parts[2] = {wire.substr(0, split), wire.substr(split)};
    bool in_body = false;
    for (auto part : parts) {
        while (!part.empty() || in_body) {
            const auto step = p.feed(part);
            if (step.status == parse_status::bad_message ||
                step.status == parse_status::head_too_large) {
                return out;
            }
            if (in_body) {
                out.body.append(p.body_out(part.substr(0, step.consumed)));
            }
            part.remove_prefix(step.consumed);
            if (step.status == parse_status::head_complete) {
                in_body = true;
                if (kind == message_kind::request) {
                    serialize_request_head(p.head(), "/", "", connection_field::keep_alive,
                                           false, out.head);
                } else {
                    if (p.head().status < 200) {
                        return out; // interim: the relay sends it on alone, then reads again
                    }
                    serialize_response_head(p.head(), connection_field::keep_alive, out.head);
                }
                continue;
            }
            if (step.status == parse_status::message_complete) {
                out.complete = true;
                out.chunked = p.chunked();
                return out;
            }
            if (step.status == parse_status::need_more) {
                break;
            }
        }
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const message_kind kind = (data[0] & 1) != 0 ? message_kind::response : message_kind::request;
    const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t split = wire.empty() ? 0 : (data[0] >> 1) % (wire.size() + 1);

    const relayed whole = relay(kind, wire, wire.size());
    const relayed split_up = relay(kind, wire, split);
    check(whole.complete == split_up.complete);
    if (!whole.complete) {
        return 0;
    }
    check(whole.head == split_up.head && whole.body == split_up.body);

    check(!whole.chunked || canonical_chunked(whole.body));
    const std::string sent = whole.head + whole.body;
    const relayed again = relay(kind, sent, sent.size());
    check(again.complete);
    check(again.head == whole.head && again.body == whole.body);
    // Nothing past the message: a fresh parser reads it as ending exactly at the end.
    http1_parser p(kind, 16 * 1024);
    std::size_t consumed = 0;
    std::string_view rest = sent;
    for (;;) {
        const auto step = p.feed(rest);
        consumed += step.consumed;
        rest.remove_prefix(step.consumed);
        if (step.status == parse_status::message_complete) {
            break;
        }
        check(step.status == parse_status::head_complete ||
              (step.status == parse_status::need_more && !rest.empty()));
    }
    check(consumed == sent.size());
    return 0;
}
