#include "capture/tcp_synth.hpp"

#include "capture/checksum.hpp"
#include "capture/pcapng.hpp"

#include <boost/url/grammar/parse.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>

#include <algorithm>
#include <cstring>

namespace hoplens::capture {

namespace {

// 192.0.2.1 (RFC 5737) and 2001:db8::1 (RFC 3849): clearly not a real peer.
constexpr std::array<std::uint8_t, 4> unknown_v4 = {192, 0, 2, 1};

struct parsed_address {
    bool ok = false;
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{}; // v4 in the first 4 bytes
};

parsed_address parse_address(std::string_view text) {
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    text = text.substr(0, text.find('%')); // a zone index does not go on the wire
    parsed_address out;
    if (auto v4 = boost::urls::parse_ipv4_address(text)) {
        const auto b = v4->to_bytes();
        std::copy(b.begin(), b.end(), out.bytes.begin());
        out.ok = true;
        return out;
    }
    if (auto v6 = boost::urls::parse_ipv6_address(text)) {
        const auto b = v6->to_bytes();
        std::copy(b.begin(), b.end(), out.bytes.begin());
        out.ok = true;
        out.v6 = true;
        if (v6->is_v4_mapped()) {
            std::copy(b.begin() + 12, b.end(), out.bytes.begin());
            std::fill(out.bytes.begin() + 4, out.bytes.end(), 0);
            out.v6 = false;
        }
    }
    return out;
}

std::array<std::uint8_t, 16> as_v6(const parsed_address& a) {
    if (a.v6) {
        return a.bytes;
    }
    std::array<std::uint8_t, 16> out{};
    out[10] = 0xFF;
    out[11] = 0xFF;
    std::copy(a.bytes.begin(), a.bytes.begin() + 4, out.begin() + 12);
    return out;
}

std::uint16_t fold(std::uint32_t acc) {
    while (acc >> 16 != 0) {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    return std::uint16_t(~acc & 0xFFFF);
}

using packet_headers = std::array<std::uint8_t, 40 + 28>; // IPv6 + TCP with options

void put16(packet_headers& b, std::size_t at, std::uint16_t v) {
    b[at] = std::uint8_t(v >> 8);
    b[at + 1] = std::uint8_t(v & 0xFF);
}

void put32(packet_headers& b, std::size_t at, std::uint32_t v) {
    put16(b, at, std::uint16_t(v >> 16));
    put16(b, at + 2, std::uint16_t(v & 0xFFFF));
}

std::span<const std::byte> bytes_of(const packet_headers& h, std::size_t from, std::size_t n) {
    return std::as_bytes(std::span(h).subspan(from, n));
}

} // namespace

tcp_conversation::tcp_conversation(const endpoint& client, const endpoint& server,
                                   std::uint32_t client_isn, std::uint32_t server_isn) {
    parsed_address c = parse_address(client.address);
    parsed_address s = parse_address(server.address);
    for (parsed_address* a : {&c, &s}) {
        if (!a->ok) {
            a->v6 = false;
            std::copy(unknown_v4.begin(), unknown_v4.end(), a->bytes.begin());
        }
    }
    v6_ = c.v6 || s.v6;
    client_.addr = v6_ ? as_v6(c) : c.bytes;
    server_.addr = v6_ ? as_v6(s) : s.bytes;
    client_.port = client.port;
    server_.port = server.port;
    client_.next_seq = client_isn;
    server_.next_seq = server_isn;
}

void tcp_conversation::segment(peer& from, peer& to, std::uint8_t flags, time_point at,
                               std::span<const std::byte> payload, std::uint32_t payload_sum,
                               pcapng_buffer& out, std::string_view comment) {
    const bool with_options = (flags & syn) != 0;
    const std::size_t ip_len = v6_ ? 40 : 20;
    const std::size_t tcp_len = with_options ? 28 : 20;
    packet_headers p{};
    const std::size_t addr_len = v6_ ? 16 : 4;
    const auto segment_len = std::uint16_t(tcp_len + payload.size());

    if (v6_) {
        p[0] = 0x60;
        put16(p, 4, segment_len);
        p[6] = 6; // next header: TCP
        p[7] = 64;
        std::copy_n(from.addr.begin(), 16, p.begin() + 8);
        std::copy_n(to.addr.begin(), 16, p.begin() + 24);
    } else {
        p[0] = 0x45;
        put16(p, 2, std::uint16_t(ip_len + segment_len));
        put16(p, 4, from.ip_id++);
        put16(p, 6, 0x4000); // don't fragment
        p[8] = 64;
        p[9] = 6;
        std::copy_n(from.addr.begin(), 4, p.begin() + 12);
        std::copy_n(to.addr.begin(), 4, p.begin() + 16);
        put16(p, 10, fold(sum16(bytes_of(p, 0, 20))));
    }

    const std::size_t t = ip_len;
    put16(p, t, from.port);
    put16(p, t + 2, to.port);
    put32(p, t + 4, from.next_seq);
    const bool acking = (flags & ack) != 0;
    put32(p, t + 8, acking ? to.next_seq : 0);
    p[t + 12] = std::uint8_t((tcp_len / 4) << 4);
    p[t + 13] = flags;
    put16(p, t + 14, 0xFFFF); // with window scale 7: 8 MiB, never full
    if (with_options) {
        // MSS 65495 (loopback's), NOP, window scale 7 (RFC 7323 2.2).
        const std::uint8_t opts[8] = {2, 4, 0xFF, 0xD7, 1, 3, 3, 7};
        std::copy_n(opts, 8, p.begin() + std::ptrdiff_t(t + 20));
    }
    // Pseudo-header: addresses, protocol and TCP length (RFC 9293 3.1, RFC 8200 8.1); the
    // payload follows the even-sized TCP header, so its sum adds on.
    std::uint32_t acc = sum16(bytes_of(p, v6_ ? 8 : 12, 2 * addr_len));
    acc += 6 + segment_len + sum16(bytes_of(p, t, tcp_len)) +
           (payload_sum == no_sum ? sum16(payload) : payload_sum);
    put16(p, t + 16, fold(acc));

    if (acking) {
        from.acked = to.next_seq;
    }
    from.next_seq += std::uint32_t(payload.size()) + ((flags & (syn | fin)) != 0 ? 1 : 0);
    append_pcapng_packet(out, at, std::span(p).first(ip_len + tcp_len), payload, comment);
}

void tcp_conversation::ack_from(peer& receiver, peer& sender, time_point at, pcapng_buffer& out) {
    // A pure ACK that acknowledges nothing new would read as a duplicate ACK: skip it.
    if (receiver.acked != sender.next_seq) {
        segment(receiver, sender, ack, at, {}, 0, out);
    }
}

void tcp_conversation::open(time_point at, pcapng_buffer& out, std::string_view comment) {
    if (open_) {
        return;
    }
    open_ = true;
    segment(client_, server_, syn, at, {}, 0, out, comment);
    segment(server_, client_, syn | ack, at, {}, 0, out);
    segment(client_, server_, ack, at, {}, 0, out);
}

void tcp_conversation::data(direction dir, time_point at, summed_bytes chunk, pcapng_buffer& out) {
    const std::span<const std::byte> bytes = chunk.bytes;
    if (!open_ || closed_ || bytes.empty()) {
        return;
    }
    const bool upstream = dir == direction::client_to_server;
    peer& from = upstream ? client_ : server_;
    peer& to = upstream ? server_ : client_;
    std::string gap_note;
    if (from.skipped > 0) {
        gap_note = "hoplens: " + std::to_string(from.skipped) +
                   " bytes before this segment are not in the capture (capture queue full)";
        from.skipped = 0;
    }
    std::size_t sent = 0;
    int unacked_segments = 0;
    while (sent < bytes.size()) {
        const std::size_t n = std::min(max_segment_payload, bytes.size() - sent);
        sent += n;
        const bool last = sent == bytes.size();
        const std::size_t piece = (sent - n) / max_segment_payload;
        segment(from, to, std::uint8_t(ack | (last ? psh : 0)), at, bytes.subspan(sent - n, n),
                piece < chunk.piece_sums.size() ? chunk.piece_sums[piece] : no_sum, out,
                sent == n ? std::string_view(gap_note) : std::string_view{});
        if (++unacked_segments == 4 || last) {
            ack_from(to, from, at, out);
            unacked_segments = 0;
        }
    }
}

void tcp_conversation::skip(direction dir, std::uint64_t bytes) {
    peer& from = dir == direction::client_to_server ? client_ : server_;
    from.next_seq += std::uint32_t(bytes); // sequence numbers wrap (RFC 9293 3.4)
    from.skipped += bytes;
}

void tcp_conversation::close(time_point at, pcapng_buffer& out) {
    if (!open_ || closed_) {
        return;
    }
    closed_ = true;
    segment(client_, server_, fin | ack, at, {}, 0, out);
    segment(server_, client_, fin | ack, at, {}, 0, out);
    segment(client_, server_, ack, at, {}, 0, out);
}

} // namespace hoplens::capture
