#pragma once
// The ClientHello peek of "sni" mode: reads the server_name and ALPN offers out of the first
// bytes a client sends, without consuming them, so that the leaf can be chosen before the TLS
// accept. Pure: bytes in, a value out; no sockets, no Asio (it is fuzzed alone).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hoplens::proxy {

// The largest ClientHello handshake message accepted (type and length bytes included).
// RFC 8446 §4.1.2 has no fixed bound; real hellos are under 2 KiB even with post-quantum key
// shares, and 16 KiB is one full record's worth.
inline constexpr std::size_t max_client_hello_bytes = 16 * 1024;
// The most bytes the peek may need: the hello plus record headers when a client splits it into
// several records (OpenSSL's smallest fragment is 512 bytes: 32 headers for 16 KiB). A caller's
// peek buffer of this size always gets a verdict other than need_more.
inline constexpr std::size_t max_client_hello_wire_bytes = max_client_hello_bytes + 2048;

// Not enough bytes yet for a verdict: read more and call again with the longer buffer.
struct need_more {};

enum class not_tls_reason {
    not_handshake,   // the first byte is not a TLS handshake record (plain HTTP, garbage)
    sslv2,           // an SSL 2.0-style hello, which hoplens does not speak
    bad_record,      // a record header that TLS forbids (version, length)
    too_large,       // the hello exceeds max_client_hello_bytes or its wire bound
    malformed,       // lengths or fields that do not add up
};
std::string_view to_string(not_tls_reason reason);

struct not_tls {
    not_tls_reason reason;
};

struct client_hello_info {
    std::optional<std::string> server_name; // lower-cased; absent: no (usable) SNI
    bool server_name_invalid = false;       // a server_name was sent but is not a host name
    std::vector<std::string> alpn;          // protocols offered, in the client's order
    std::uint16_t record_version = 0;       // legacy_record_version of the first record
    std::uint16_t client_version = 0;       // legacy_version inside the hello
};

using peek_result = std::variant<need_more, not_tls, client_hello_info>;

// Accepts the start of a TLS connection: one or more handshake records (RFC 8446 §5.1) whose
// payloads concatenate to a ClientHello (§4.1.2). Bytes after the hello are ignored. Rejects,
// as soon as the bytes seen prove it: anything else first, records of other types before the
// hello is complete, lengths that disagree, duplicate server_name/ALPN extensions, and
// server_names that are not host names. Never reads outside `buf`.
peek_result peek_client_hello(std::span<const std::byte> buf);

} // namespace hoplens::proxy
