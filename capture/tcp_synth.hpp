#pragma once
// One intercepted connection as a synthesized TCP conversation (RFC 9293) carrying the
// decrypted bytes, written as pcapng packets: a three-way handshake, data segments whose
// sequence numbers advance by exactly their payload, an ACK from the receiver after each
// chunk, and a FIN exchange at the end, all with valid IPv4/IPv6 and TCP checksums, so that
// Wireshark's sequence analysis finds nothing to flag.

#include "capture/capture.hpp"

#include <array>
#include <span>
#include <string>
#include <string_view>

namespace hoplens::capture {

class tcp_conversation {
  public:
    // Addresses as text; an address family mismatch is bridged with IPv4-mapped IPv6.
    // An address that does not parse is replaced by a documentation address (RFC 5737/3849).
    tcp_conversation(const endpoint& client, const endpoint& server, std::uint32_t client_isn,
                     std::uint32_t server_isn);

    // Appends pcapng EPBs to `out`, which may reference the data bytes (see pcapng_buffer).
    // The SYN carries `comment` (say, the server name).
    void open(time_point at, pcapng_buffer& out, std::string_view comment);
    // Segments of max_segment_payload bytes; their payload sums are taken from
    // chunk.piece_sums where given.
    void data(direction dir, time_point at, summed_bytes chunk, pcapng_buffer& out);
    // `bytes` of `dir` were sent but are not in the capture: the next segment of that side
    // starts past them, with a comment saying so.
    void skip(direction dir, std::uint64_t bytes);
    void close(time_point at, pcapng_buffer& out);

    static constexpr std::size_t max_segment_payload = summed_bytes::piece_bytes;

  private:
    struct peer {
        std::array<std::uint8_t, 16> addr{};
        std::uint16_t port = 0;
        std::uint32_t next_seq = 0; // next sequence number this side sends
        std::uint32_t acked = 0;    // last ack number this side sent
        std::uint16_t ip_id = 0;
        std::uint64_t skipped = 0; // bytes skipped since this side's last segment
    };
    enum flag : std::uint8_t { fin = 0x01, syn = 0x02, psh = 0x08, ack = 0x10 };

    static constexpr std::uint32_t no_sum = ~std::uint32_t{0}; // payload_sum: compute it
    // `payload_sum` is sum16(payload), or no_sum.
    void segment(peer& from, peer& to, std::uint8_t flags, time_point at,
                 std::span<const std::byte> payload, std::uint32_t payload_sum, pcapng_buffer& out,
                 std::string_view comment = {});
    void ack_from(peer& receiver, peer& sender, time_point at, pcapng_buffer& out);

    bool v6_ = false;
    bool open_ = false;
    bool closed_ = false;
    peer client_;
    peer server_;
};

} // namespace hoplens::capture
