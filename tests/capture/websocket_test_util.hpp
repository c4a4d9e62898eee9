#pragma once
// WebSocket frames (RFC 6455 5.2) and permessage-deflate payloads (RFC 7692 7.2.1) built as
// bytes for the capture tests.

#include <doctest/doctest.h>

#include <zlib.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplens::capture::test {

struct frame_bits {
    bool fin = true;
    bool rsv1 = false;
    std::uint8_t opcode = 1;
    std::optional<std::array<std::uint8_t, 4>> mask; // client frames are masked
};

// One frame with the shortest length form for `payload` (7, 16 or 64 bits).
inline std::string ws_frame(frame_bits f, std::string_view payload) {
    std::string out;
    out += char((f.fin ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | f.opcode);
    const std::uint8_t mask_bit = f.mask ? 0x80 : 0;
    const std::uint64_t n = payload.size();
    if (n < 126) {
        out += char(mask_bit | n);
    } else if (n <= 0xFFFF) {
        out += char(mask_bit | 126);
        out += char(n >> 8);
        out += char(n & 0xFF);
    } else {
        out += char(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
            out += char((n >> shift) & 0xFF);
        }
    }
    if (f.mask) {
        out.append(reinterpret_cast<const char*>(f.mask->data()), 4);
    }
    for (std::size_t i = 0; i < payload.size(); ++i) {
        out += f.mask ? char(std::uint8_t(payload[i]) ^ (*f.mask)[i % 4]) : payload[i];
    }
    return out;
}

constexpr std::array<std::uint8_t, 4> client_mask{0x37, 0xfa, 0x21, 0x3d};

// A client frame (masked).
inline std::string ws_send(std::string_view payload, std::uint8_t opcode = 1, bool fin = true) {
    return ws_frame({fin, false, opcode, client_mask}, payload);
}

// A server frame (unmasked).
inline std::string ws_receive(std::string_view payload, std::uint8_t opcode = 1, bool fin = true) {
    return ws_frame({fin, false, opcode, std::nullopt}, payload);
}

// One sender's permessage-deflate compressor with context takeover: each message is raw
// deflate flushed with Z_SYNC_FLUSH, without the 00 00 ff ff that ends it (RFC 7692 7.2.1).
class ws_deflater {
  public:
    ws_deflater() {
        REQUIRE(deflateInit2(&z_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    }
    ~ws_deflater() {
        deflateEnd(&z_);
    }
    ws_deflater(const ws_deflater&) = delete;
    ws_deflater& operator=(const ws_deflater&) = delete;

    std::string message(std::string_view s) {
        std::string out(s.size() + 64, '\0');
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
        z_.avail_in = uInt(s.size());
        z_.next_out = reinterpret_cast<Bytef*>(out.data());
        z_.avail_out = uInt(out.size());
        REQUIRE(deflate(&z_, Z_SYNC_FLUSH) == Z_OK);
        REQUIRE(z_.avail_in == 0);
        out.resize(out.size() - z_.avail_out);
        REQUIRE(out.ends_with(std::string_view("\x00\x00\xff\xff", 4)));
        out.resize(out.size() - 4);
        return out;
    }

  private:
    z_stream z_{};
};

} // namespace hoplens::capture::test
