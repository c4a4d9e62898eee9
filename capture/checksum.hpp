#pragma once
// RFC 1071 one's-complement sums for the pcapng's IPv4 and TCP checksums. Every payload byte
// of a capture goes through one of these, so both work on wide words; copy_sum16 sums while
// it copies, so that bytes copied anyway (into the capture queue, while the relay still has
// them in cache) need no second pass later.

#include <cstddef>
#include <cstdint>
#include <span>

namespace hoplens::capture {

// The sum of the big-endian 16-bit words of `bytes` (an odd last byte padded with zero),
// folded to 16 bits, so that sums of consecutive even-sized pieces add up (fold again).
std::uint32_t sum16(std::span<const std::byte> bytes);

// Copies `from` to `to` (not overlapping) and returns sum16(from).
std::uint32_t copy_sum16(std::byte* to, std::span<const std::byte> from);

} // namespace hoplens::capture
