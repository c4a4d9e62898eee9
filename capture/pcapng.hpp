#pragma once
// pcapng block encoding (draft-ietf-opsawg-pcapng): a Section Header Block, one Interface
// Description Block with LINKTYPE_RAW (101: each packet starts at its IPv4 or IPv6 header, so
// both families share the interface) at the default microsecond resolution, and Enhanced
// Packet Blocks. Little-endian, as the byte-order magic in the SHB says.

#include "capture/capture.hpp"

#include <span>
#include <string>
#include <string_view>

namespace hoplens::capture {

// SHB + IDB: the start of a file (or of a new section after a reopen).
std::string pcapng_file_header(std::string_view application);

// One EPB holding `headers` then `payload` as one packet, stamped `at`, with an optional
// opt_comment. A large payload is referenced, not copied (see pcapng_buffer).
void append_pcapng_packet(pcapng_buffer& out, time_point at, std::span<const std::uint8_t> headers,
                          std::span<const std::byte> payload, std::string_view comment = {});

} // namespace hoplens::capture
