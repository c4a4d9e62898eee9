#include "proxy/client_hello.hpp"

#include <array>

namespace hoplens::proxy {
namespace {

constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::size_t record_header_bytes = 5;
constexpr std::size_t max_record_payload = 1 << 14; // RFC 8446 §5.1: MUST NOT exceed 2^14
constexpr std::uint16_t extension_server_name = 0;  // RFC 6066 §3
constexpr std::uint16_t extension_alpn = 16;        // RFC 7301 §3.1
constexpr std::uint8_t server_name_host_name = 0;

std::uint8_t byte_at(std::span<const std::byte> buf, std::size_t i) {
    return static_cast<std::uint8_t>(buf[i]);
}

// A bounds-checked cursor over the reassembled hello; every read fails rather than overrun.
class reader {
  public:
    explicit reader(std::span<const std::uint8_t> data) : data_(data) {
    }
    bool empty() const {
        return pos_ == data_.size();
    }
    bool read(std::size_t bytes, std::uint32_t& out) {
        if (data_.size() - pos_ < bytes) {
            return false;
        }
        out = 0;
        for (std::size_t i = 0; i < bytes; ++i) {
            out = (out << 8) | data_[pos_++];
        }
        return true;
    }
    bool skip(std::size_t bytes) {
        if (data_.size() - pos_ < bytes) {
            return false;
        }
        pos_ += bytes;
        return true;
    }
    // A length-prefixed vector (`length_bytes` of length, then that many bytes).
    bool vector(std::size_t length_bytes, std::span<const std::uint8_t>& out) {
        std::uint32_t length = 0;
        if (!read(length_bytes, length) || data_.size() - pos_ < length) {
            return false;
        }
        out = data_.subspan(pos_, length);
        pos_ += length;
        return true;
    }

  private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

// RFC 6066 §3: a DNS host name, ASCII, no trailing dot. We also refuse what could escape a
// file name or a log line ('/', control bytes), since the name becomes a SAN, a cache key and
// a log field. '_' is allowed because real names use it.
bool valid_host_name(std::span<const std::uint8_t> name) {
    if (name.empty() || name.size() > 253) {
        return false;
    }
    std::size_t label_bytes = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const auto c = name[i];
        if (c == '.') {
            if (label_bytes == 0) {
                return false;
            }
            label_bytes = 0;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label_bytes > 63) {
            return false;
        }
    }
    return label_bytes != 0;
}

// ServerNameList (RFC 6066 §3): exactly one host_name entry.
std::optional<not_tls_reason> read_server_name(std::span<const std::uint8_t> data,
                                               client_hello_info& out) {
    reader r(data);
    std::span<const std::uint8_t> list;
    if (!r.vector(2, list) || !r.empty() || list.empty()) {
        return not_tls_reason::malformed;
    }
    reader entries(list);
    while (!entries.empty()) {
        std::uint32_t type = 0;
        std::span<const std::uint8_t> name;
        if (!entries.read(1, type) || type != server_name_host_name || !entries.vector(2, name) ||
            out.server_name || out.server_name_invalid) {
            return not_tls_reason::malformed;
        }
        if (!valid_host_name(name)) {
            // Some clients (Go's, hence hey) send "host:port" or an IP literal as the name.
            // Like nginx, treat a name that is not a host name as no name at all: it never
            // reaches a certificate, and the listener decides what "no SNI" means.
            out.server_name_invalid = true;
            continue;
        }
        std::string host(name.begin(), name.end());
        for (auto& c : host) {
            c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        out.server_name = std::move(host);
    }
    return std::nullopt;
}

// ProtocolNameList (RFC 7301 §3.1): non-empty names, at least one.
std::optional<not_tls_reason> read_alpn(std::span<const std::uint8_t> data,
                                        client_hello_info& out) {
    reader r(data);
    std::span<const std::uint8_t> list;
    if (!r.vector(2, list) || !r.empty() || list.empty()) {
        return not_tls_reason::malformed;
    }
    reader names(list);
    while (!names.empty()) {
        std::span<const std::uint8_t> name;
        if (!names.vector(1, name) || name.empty()) {
            return not_tls_reason::malformed;
        }
        out.alpn.emplace_back(name.begin(), name.end());
    }
    return std::nullopt;
}

// The ClientHello body after the 4-byte handshake header (RFC 8446 §4.1.2; TLS 1.0-1.2 hellos
// have the same shape, and may end after the compression methods with no extensions).
std::optional<not_tls_reason> read_hello_body(std::span<const std::uint8_t> body,
                                              client_hello_info& out) {
    reader r(body);
    std::uint32_t version = 0;
    std::span<const std::uint8_t> session_id;
    std::span<const std::uint8_t> ciphers;
    std::span<const std::uint8_t> compression;
    if (!r.read(2, version) || !r.skip(32) || !r.vector(1, session_id) || session_id.size() > 32 ||
        !r.vector(2, ciphers) || ciphers.size() < 2 || ciphers.size() % 2 != 0 ||
        !r.vector(1, compression) || compression.empty()) {
        return not_tls_reason::malformed;
    }
    out.client_version = static_cast<std::uint16_t>(version);
    if (r.empty()) {
        return std::nullopt;
    }
    std::span<const std::uint8_t> extensions;
    if (!r.vector(2, extensions) || !r.empty()) {
        return not_tls_reason::malformed;
    }
    reader ext(extensions);
    bool seen_alpn = false;
    bool seen_sni = false;
    while (!ext.empty()) {
        std::uint32_t type = 0;
        std::span<const std::uint8_t> data;
        if (!ext.read(2, type) || !ext.vector(2, data)) {
            return not_tls_reason::malformed;
        }
        std::optional<not_tls_reason> error;
        if (type == extension_server_name) {
            // RFC 8446 §4.2: no extension type may appear twice.
            error = seen_sni ? not_tls_reason::malformed : read_server_name(data, out);
            seen_sni = true;
        } else if (type == extension_alpn) {
            error = seen_alpn ? not_tls_reason::malformed : read_alpn(data, out);
            seen_alpn = true;
        }
        if (error) {
            return error;
        }
    }
    return std::nullopt;
}

} // namespace

std::string_view to_string(not_tls_reason reason) {
    switch (reason) {
    case not_tls_reason::not_handshake:
        return "not a TLS handshake";
    case not_tls_reason::sslv2:
        return "SSLv2-style hello";
    case not_tls_reason::bad_record:
        return "bad TLS record header";
    case not_tls_reason::too_large:
        return "ClientHello too large";
    case not_tls_reason::malformed:
        return "malformed ClientHello";
    }
    return "?";
}

peek_result peek_client_hello(std::span<const std::byte> buf) {
    if (buf.empty()) {
        return need_more{};
    }
    const auto first = byte_at(buf, 0);
    if (first != record_handshake) {
        // SSLv2 CLIENT-HELLO: a 2-byte length with the top bit set, then message type 1
        // (RFC 6101 Appendix E.2).
        if ((first & 0x80) != 0 && (buf.size() < 3 || byte_at(buf, 2) == 1)) {
            return buf.size() < 3 ? peek_result{need_more{}} : not_tls{not_tls_reason::sslv2};
        }
        return not_tls{not_tls_reason::not_handshake};
    }
    // Reassemble the handshake bytes from consecutive records (RFC 8446 §5.1 lets a handshake
    // message span records). A 16 KiB hello fits the fixed array; more is refused.
    std::array<std::uint8_t, max_client_hello_bytes> hello{};
    std::size_t hello_bytes = 0;
    std::size_t pos = 0;
    client_hello_info out;
    while (true) {
        if (pos + record_header_bytes > max_client_hello_wire_bytes) {
            return not_tls{not_tls_reason::too_large};
        }
        // Judge each header byte as soon as it arrives, so that garbage fails fast. (The first
        // record's type was checked above.)
        if (buf.size() > pos && byte_at(buf, pos) != record_handshake) {
            return not_tls{not_tls_reason::malformed}; // another record type inside the hello
        }
        if (buf.size() > pos + 1 && byte_at(buf, pos + 1) != 3) {
            return not_tls{not_tls_reason::bad_record};
        }
        if (buf.size() < pos + record_header_bytes) {
            return need_more{};
        }
        const std::uint16_t version =
            static_cast<std::uint16_t>(byte_at(buf, pos + 1) << 8 | byte_at(buf, pos + 2));
        const std::size_t length =
            static_cast<std::size_t>(byte_at(buf, pos + 3) << 8 | byte_at(buf, pos + 4));
        if (pos == 0) {
            out.record_version = version;
        }
        // RFC 8446 §5.1: empty handshake fragments are forbidden, and payloads are <= 2^14.
        if (length == 0 || length > max_record_payload) {
            return not_tls{not_tls_reason::bad_record};
        }
        const std::size_t record_end = pos + record_header_bytes + length;
        if (record_end > max_client_hello_wire_bytes) {
            return not_tls{not_tls_reason::too_large};
        }
        // Copy what has arrived of this record's payload. Once the array is full the hello is
        // complete (its length was checked against the array's size below), so the rest of
        // the record is not needed.
        const std::size_t payload = pos + record_header_bytes;
        const std::size_t available = std::min(buf.size(), record_end) - payload;
        const std::size_t copied = std::min(available, hello.size() - hello_bytes);
        for (std::size_t i = 0; i < copied; ++i) {
            hello[hello_bytes + i] = byte_at(buf, payload + i);
        }
        const std::size_t total = hello_bytes + copied;
        if (total >= 1 && hello[0] != handshake_client_hello) {
            return not_tls{not_tls_reason::malformed};
        }
        if (total >= 4) {
            const std::size_t body_bytes = static_cast<std::size_t>(hello[1]) << 16 |
                                           static_cast<std::size_t>(hello[2]) << 8 | hello[3];
            if (4 + body_bytes > max_client_hello_bytes) {
                return not_tls{not_tls_reason::too_large};
            }
            if (total >= 4 + body_bytes) {
                if (auto error = read_hello_body(std::span(hello).subspan(4, body_bytes), out)) {
                    return not_tls{*error};
                }
                return out;
            }
        }
        if (buf.size() < record_end) {
            return need_more{};
        }
        hello_bytes = total;
        pos = record_end;
    }
}

} // namespace hoplens::proxy
