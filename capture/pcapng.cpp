#include "capture/pcapng.hpp"

#include <cassert>
#include <initializer_list>

namespace hoplens::capture {

namespace {

constexpr std::uint32_t shb_type = 0x0A0D0D0A;
constexpr std::uint32_t idb_type = 0x00000001;
constexpr std::uint32_t epb_type = 0x00000006;
constexpr std::uint16_t linktype_raw = 101;
constexpr std::uint16_t opt_endofopt = 0;
constexpr std::uint16_t opt_comment = 1;
constexpr std::uint16_t shb_userappl = 4;
// Payloads from this size on are written from where the caller keeps them (writev) rather
// than copied: below it a copy costs less than the extra piece.
constexpr std::size_t min_referenced_payload = 1024;

void put16(std::string& out, std::uint16_t v) {
    out += char(v & 0xFF);
    out += char(v >> 8);
}

// Little-endian 32-bit fields appended in one step: every packet has eight of them.
void put32s(std::string& out, std::initializer_list<std::uint32_t> values) {
    assert(values.size() <= 8);
    char bytes[4 * 8];
    std::size_t n = 0;
    for (const std::uint32_t v : values) {
        bytes[n++] = char(v & 0xFF);
        bytes[n++] = char((v >> 8) & 0xFF);
        bytes[n++] = char((v >> 16) & 0xFF);
        bytes[n++] = char(v >> 24);
    }
    out.append(bytes, n);
}

void put32(std::string& out, std::uint32_t v) {
    put32s(out, {v});
}

void put_option(std::string& body, std::uint16_t code, std::string_view value) {
    put16(body, code);
    put16(body, std::uint16_t(value.size()));
    body.append(value);
    body.append((4 - value.size() % 4) % 4, '\0'); // options end on 32 bits
}

// type, total length, body, total length again: every block is framed the same way.
void put_block(std::string& out, std::uint32_t type, const std::string& body) {
    const auto total = std::uint32_t(12 + body.size());
    put32(out, type);
    put32(out, total);
    out += body;
    put32(out, total);
}

} // namespace

std::string pcapng_file_header(std::string_view application) {
    std::string shb;
    put32(shb, 0x1A2B3C4D); // byte-order magic
    put16(shb, 1);          // version 1.0
    put16(shb, 0);
    put32(shb, 0xFFFFFFFF); // section length unknown: the file is written as it grows
    put32(shb, 0xFFFFFFFF);
    put_option(shb, shb_userappl, application.substr(0, 0xFFFF));
    put32(shb, opt_endofopt);

    std::string idb;
    put16(idb, linktype_raw);
    put16(idb, 0);
    put32(idb, 0); // no snap length limit

    std::string out;
    put_block(out, shb_type, shb);
    put_block(out, idb_type, idb);
    return out;
}

void append_pcapng_packet(pcapng_buffer& out, time_point at, std::span<const std::uint8_t> headers,
                          std::span<const std::byte> payload, std::string_view comment) {
    const auto us = std::uint64_t(
        std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count());
    const std::size_t packet_size = headers.size() + payload.size();
    const std::size_t padded = (packet_size + 3) / 4 * 4;
    const std::size_t comment_size =
        comment.empty() ? 0 : std::min<std::size_t>(comment.size(), 0xFFFF);
    const std::size_t options_size = comment.empty() ? 0 : 4 + (comment_size + 3) / 4 * 4 + 4;
    const auto total = std::uint32_t(32 + padded + options_size);
    std::string& b = out.copied();
    put32s(b, {epb_type, total, 0 /* interface 0 */, std::uint32_t(us >> 32),
               std::uint32_t(us & 0xFFFFFFFF), std::uint32_t(packet_size),
               std::uint32_t(packet_size)});
    b.append(reinterpret_cast<const char*>(headers.data()), headers.size());
    if (payload.size() >= min_referenced_payload) {
        out.reference(payload);
    } else {
        b.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    }
    b.append(padded - packet_size, '\0');
    if (!comment.empty()) {
        put_option(b, opt_comment, comment.substr(0, comment_size));
        put32(b, opt_endofopt);
    }
    put32(b, total);
}

} // namespace hoplens::capture
