// Fuzzes the WebSocket frame decoder of one direction: no crash, no read outside a buffer
// (ASan), kept data within the budget, and the same messages and verdict whether the bytes
// come at once or split in two at any point (state carried across feeds, inflate included).
//
// Input: a flags byte (bit 0: permessage-deflate; bits 1-7: the budget in units of 64 bytes),
// a split offset byte, then the frames.
#include "capture/websocket_frames.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <string_view>

using hoplens::fuzz::check;
using namespace hoplens::capture;

namespace {

struct outcome {
    std::vector<websocket_message> messages;
    websocket_budget budget;
    std::string problem;
};

outcome decode(bool deflate, std::size_t cap, std::string_view a, std::string_view b) {
    outcome o;
    o.budget.room = cap;
    websocket_frame_decoder d(direction::client_to_server, deflate);
    d.feed(time_point{}, a, o.budget, o.messages);
    d.feed(time_point{}, b, o.budget, o.messages);
    o.problem = d.problem();
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const bool deflate = (data[0] & 1) != 0;
    const std::size_t cap = std::size_t(data[0] >> 1) * 64;
    const std::string_view frames(reinterpret_cast<const char*>(data + 2), size - 2);
    const std::size_t split = std::min<std::size_t>(data[1], frames.size());

    const outcome whole = decode(deflate, cap, frames, {});
    const outcome parts = decode(deflate, cap, frames.substr(0, split), frames.substr(split));
    std::size_t kept = 0;
    for (const auto& m : whole.messages) {
        kept += m.data.size();
        check(m.opcode == 1 || m.opcode == 2);
    }
    check(kept <= cap);
    check(whole.problem == parts.problem);
    check(whole.budget.messages_left_out == parts.budget.messages_left_out);
    check(whole.budget.bytes_left_out == parts.budget.bytes_left_out);
    check(whole.messages.size() == parts.messages.size());
    for (std::size_t i = 0; i < whole.messages.size(); ++i) {
        check(whole.messages[i].data == parts.messages[i].data);
        check(whole.messages[i].opcode == parts.messages[i].opcode);
    }
    return 0;
}
