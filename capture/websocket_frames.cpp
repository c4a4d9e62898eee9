#include "capture/websocket_frames.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <zlib.h>

namespace hoplens::capture {

namespace {

// Opcodes (RFC 6455 5.2): 0 continues a data message; 8 to 10 (close, ping, pong) are
// control frames; 3 to 7 and 11 to 15 are reserved.
constexpr std::uint8_t continuation = 0;
constexpr std::uint8_t text = 1;
constexpr std::uint8_t binary = 2;
constexpr std::uint8_t last_control = 10;

bool is_control(std::uint8_t op) {
    return op >= 8;
}

// RFC 7692 7.2.2: the sender removed this empty stored block's tail from each message.
constexpr std::string_view deflate_tail{"\x00\x00\xff\xff", 4};

// A frame head: 2 bytes, then a 16- or 64-bit length, then the masking key (RFC 6455 5.2).
struct frame_head {
    std::array<std::uint8_t, 14> bytes{};
    std::size_t have = 0;

    std::size_t needed() const {
        if (have < 2) {
            return 2;
        }
        const std::uint8_t len7 = bytes[1] & 0x7F;
        const std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        return 2 + extended + ((bytes[1] & 0x80) != 0 ? 4 : 0);
    }
    bool fin() const {
        return (bytes[0] & 0x80) != 0;
    }
    bool rsv1() const {
        return (bytes[0] & 0x40) != 0;
    }
    bool rsv23() const {
        return (bytes[0] & 0x30) != 0;
    }
    std::uint8_t op() const {
        return bytes[0] & 0x0F;
    }
    bool masked() const {
        return (bytes[1] & 0x80) != 0;
    }
    std::size_t length_bytes() const {
        const std::uint8_t len7 = bytes[1] & 0x7F;
        return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    }
    std::uint64_t length() const {
        const std::size_t n = length_bytes();
        if (n == 0) {
            return bytes[1] & 0x7F;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v = (v << 8) | bytes[2 + i];
        }
        return v;
    }
    std::array<std::uint8_t, 4> mask() const {
        const std::size_t at = 2 + length_bytes();
        return {bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]};
    }
};

} // namespace

struct websocket_frame_decoder::state {
    direction dir = direction::client_to_server;
    bool deflate = false; // permessage-deflate was negotiated
    std::string problem;
    std::uint64_t offset = 0;      // bytes of this direction consumed
    std::uint64_t frame_start = 0; // offset of the current frame's head

    frame_head head;
    bool in_payload = false;
    std::uint64_t payload_left = 0;
    std::array<std::uint8_t, 4> mask{};
    std::size_t mask_at = 0;
    bool frame_masked = false;

    // The data message being assembled (opcode 0 when none).
    std::uint8_t message_op = 0;
    bool message_compressed = false;
    bool message_dropped = false;
    std::uint64_t message_wire_bytes = 0;
    std::string message;
    std::string unmasked; // scratch for a payload piece

    z_stream z{};
    bool z_live = false;

    ~state() {
        if (z_live) {
            inflateEnd(&z);
        }
    }

    void fail(const std::string& why) {
        problem = std::string(dir == direction::client_to_server ? "client" : "server") +
                  " WebSocket frames not decoded from the frame at byte " +
                  std::to_string(frame_start) + ": " + why;
        std::string().swap(message);
    }

    // RFC 6455 5.2, 5.4, 5.5 and RFC 7692 6.1: what a frame head may say given the message in
    // progress. Masking is not checked: the capture records whatever the relay passed on.
    std::string head_error() const {
        const std::uint8_t op = head.op();
        if (op > binary && !is_control(op)) {
            return "reserved opcode " + std::to_string(op);
        }
        if (op > last_control) {
            return "reserved control opcode " + std::to_string(op);
        }
        if (head.rsv23()) {
            return "RSV2 or RSV3 set, no extension defines them";
        }
        if (head.rsv1() && !deflate) {
            return "RSV1 set without permessage-deflate";
        }
        if (head.rsv1() && (op == continuation || is_control(op))) {
            return "RSV1 set on a continuation or control frame";
        }
        if (head.length_bytes() == 8 && (head.bytes[2] & 0x80) != 0) {
            return "64-bit length with its most significant bit set";
        }
        if (is_control(op) && (!head.fin() || head.length() > 125)) {
            return "fragmented or over-long control frame";
        }
        if (op == continuation && message_op == 0) {
            return "continuation frame outside a message";
        }
        if ((op == text || op == binary) && message_op != 0) {
            return "new data frame inside a fragmented message";
        }
        return {};
    }

    void start_frame(websocket_budget& budget) {
        if (const std::string why = head_error(); !why.empty()) {
            fail(why);
            return;
        }
        in_payload = true;
        payload_left = head.length();
        frame_masked = head.masked();
        mask = head.mask();
        mask_at = 0;
        const std::uint8_t op = head.op();
        if (op == text || op == binary) {
            message_op = op;
            message_compressed = head.rsv1();
            message_dropped = budget.full;
            message_wire_bytes = 0;
        }
    }

    void drop_message(websocket_budget& budget) {
        budget.full = true;
        message_dropped = true;
        std::string().swap(message);
    }

    void keep(std::string_view data, websocket_budget& budget) {
        if (message_dropped) {
            return;
        }
        if (budget.full || data.size() > budget.room) {
            drop_message(budget);
            return;
        }
        budget.room -= data.size();
        message.append(data);
    }

    // Output past the budget stops inflating: a dropped message's data is not needed, and
    // neither are later ones' (the budget stays full), so a small payload cannot make this
    // direction inflate without limit.
    void inflate_piece(std::string_view in, websocket_budget& budget) {
        if (message_dropped) {
            return;
        }
        if (!z_live) {
            // -15 takes any window the handshake negotiated (RFC 7692 7.1.2).
            if (inflateInit2(&z, -15) != Z_OK) {
                fail("zlib could not start");
                return;
            }
            z_live = true;
        }
        std::array<char, 16384> buf{};
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        for (;;) {
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            const int rc = inflate(&z, Z_NO_FLUSH);
            keep({buf.data(), buf.size() - z.avail_out}, budget);
            if (message_dropped) {
                return;
            }
            if (rc == Z_STREAM_END) {
                // A message may end its deflate stream (BFINAL); the next one starts afresh.
                inflateReset(&z);
            } else if (rc == Z_BUF_ERROR) {
                return; // all input taken, all output given
            } else if (rc != Z_OK) {
                fail("permessage-deflate data does not inflate");
                return;
            }
            if (z.avail_in == 0 && z.avail_out != 0) {
                return;
            }
        }
    }

    void payload(std::string_view piece, websocket_budget& budget) {
        if (frame_masked) {
            unmasked.assign(piece);
            for (char& c : unmasked) {
                c = char(std::uint8_t(c) ^ mask[mask_at]);
                mask_at = (mask_at + 1) & 3;
            }
            piece = unmasked;
        }
        message_wire_bytes += piece.size();
        if (message_compressed) {
            inflate_piece(piece, budget);
        } else {
            keep(piece, budget);
        }
    }

    void end_frame(time_point at, websocket_budget& budget, std::vector<websocket_message>& out) {
        in_payload = false;
        head.have = 0;
        if (is_control(head.op()) || !head.fin()) {
            return;
        }
        if (message_compressed) {
            inflate_piece(deflate_tail, budget);
        }
        if (!problem.empty()) {
            return;
        }
        // Each kept message costs its record too, or a stream of empty messages (two bytes
        // each on the wire) would grow the log without ever filling the budget.
        if (!message_dropped && budget.room < sizeof(websocket_message)) {
            drop_message(budget);
        }
        if (message_dropped) {
            ++budget.messages_left_out;
            budget.bytes_left_out += message_wire_bytes;
        } else {
            budget.room -= sizeof(websocket_message);
            out.push_back({dir, at, message_op, std::move(message)});
        }
        message.clear();
        message_op = 0;
    }

    void feed(time_point at, std::string_view in, websocket_budget& budget,
              std::vector<websocket_message>& out) {
        while (problem.empty()) {
            if (!in_payload) {
                if (head.have == 0) {
                    frame_start = offset;
                }
                while (head.have < head.needed() && !in.empty()) {
                    head.bytes[head.have++] = std::uint8_t(in.front());
                    in.remove_prefix(1);
                    ++offset;
                }
                if (head.have < head.needed()) {
                    return;
                }
                start_frame(budget);
                continue;
            }
            // Payload bytes are taken as they come: the declared length only counts down.
            const auto n = std::size_t(std::min<std::uint64_t>(payload_left, in.size()));
            if (n > 0 && !is_control(head.op())) {
                payload(in.substr(0, n), budget);
            }
            in.remove_prefix(n);
            offset += n;
            payload_left -= n;
            if (payload_left > 0) {
                return;
            }
            end_frame(at, budget, out);
        }
    }
};

websocket_frame_decoder::websocket_frame_decoder(direction dir, bool permessage_deflate)
    : s_(std::make_unique<state>()) {
    s_->dir = dir;
    s_->deflate = permessage_deflate;
}

websocket_frame_decoder::~websocket_frame_decoder() = default;
websocket_frame_decoder::websocket_frame_decoder(websocket_frame_decoder&&) noexcept = default;
websocket_frame_decoder&
websocket_frame_decoder::operator=(websocket_frame_decoder&&) noexcept = default;

void websocket_frame_decoder::feed(time_point at, std::string_view bytes, websocket_budget& budget,
                                   std::vector<websocket_message>& out) {
    s_->feed(at, bytes, budget, out);
}

const std::string& websocket_frame_decoder::problem() const {
    return s_->problem;
}

} // namespace hoplens::capture
