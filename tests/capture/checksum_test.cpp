#include "capture/checksum.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <vector>

namespace hoplens::capture {
namespace {

std::span<const std::byte> bytes_of(const std::vector<unsigned char>& v, std::size_t from = 0,
                                    std::size_t n = std::size_t(-1)) {
    return std::as_bytes(std::span(v)).subspan(from, std::min(n, v.size() - from));
}

// The sum one 16-bit big-endian word at a time, as RFC 1071 writes it.
std::uint32_t reference_sum(std::span<const std::byte> b) {
    std::uint32_t acc = 0;
    for (std::size_t i = 0; i < b.size(); i += 2) {
        const auto hi = std::uint32_t(b[i]);
        const auto lo = i + 1 < b.size() ? std::uint32_t(b[i + 1]) : 0;
        acc += (hi << 8) | lo;
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    return acc;
}

TEST_CASE("sum16 is RFC 1071's sum: its worked example") {
    const std::vector<unsigned char> example = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(sum16(bytes_of(example)) == 0xddf2); // RFC 1071 section 3
}

TEST_CASE("sum16 and copy_sum16 agree with the word-at-a-time sum at every length and offset") {
    std::vector<unsigned char> data(4096 + 64);
    std::uint32_t x = 12345;
    for (auto& c : data) {
        x = x * 1103515245 + 12345;
        c = static_cast<unsigned char>(x >> 16);
    }
    std::fill(data.begin() + 100, data.begin() + 300, 0xFF); // carries on every word
    std::vector<std::byte> copy(data.size());
    for (const std::size_t offset : {0, 1, 3, 8}) {
        for (std::size_t n = 0; n < 200; ++n) {
            const auto piece = bytes_of(data, offset, n);
            const std::uint32_t expected = reference_sum(piece);
            CHECK(sum16(piece) == expected);
            std::fill(copy.begin(), copy.end(), std::byte{0});
            CHECK(copy_sum16(copy.data() + offset, piece) == expected);
            CHECK(std::memcmp(copy.data() + offset, piece.data(), n) == 0);
            CHECK(copy[offset + n] == std::byte{0}); // nothing written past the end
        }
    }
    const auto whole = bytes_of(data, 0, 4096 + 63);
    CHECK(copy_sum16(copy.data(), whole) == reference_sum(whole));
    CHECK(sum16(whole) == reference_sum(whole));
}

} // namespace
} // namespace hoplens::capture
