#include "capture/checksum.hpp"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hoplens::capture {

namespace {

// Both sums below add 64-bit loads as two 32-bit halves in native byte order (no carries to
// track below 2^32 words) and swap the bytes of the folded result on a little-endian host
// (RFC 1071 2(B): the sum is byte-order independent).
std::uint32_t fold_native(std::uint64_t wide) {
    while (wide >> 16 != 0) {
        wide = (wide & 0xFFFF) + (wide >> 16);
    }
    if constexpr (std::endian::native == std::endian::little) {
        wide = ((wide & 0xFF) << 8) | (wide >> 8);
    }
    return std::uint32_t(wide);
}

// The native-order sum of what is left after the wide loops: fewer than 16 bytes.
std::uint64_t tail_sum(const unsigned char* p, std::size_t n) {
    std::uint64_t wide = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, 8);
        wide += (w & 0xFFFFFFFF) + (w >> 32);
    }
    for (; i + 2 <= n; i += 2) {
        std::uint16_t w = 0;
        std::memcpy(&w, p + i, 2);
        wide += w;
    }
    if (i < n) { // the odd last byte is the high byte of a zero-padded big-endian word
        wide += std::endian::native == std::endian::little ? std::uint16_t(p[i])
                                                           : std::uint16_t(p[i] << 8);
    }
    return wide;
}

} // namespace

std::uint32_t sum16(std::span<const std::byte> bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::uint64_t wide = 0;
    std::uint64_t wide2 = 0; // two independent sums keep both adders busy
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        std::uint64_t w[2] = {};
        std::memcpy(w, p + i, 16);
        wide += (w[0] & 0xFFFFFFFF) + (w[0] >> 32);
        wide2 += (w[1] & 0xFFFFFFFF) + (w[1] >> 32);
    }
    wide = (wide & 0xFFFFFFFF) + (wide >> 32) + (wide2 & 0xFFFFFFFF) + (wide2 >> 32);
    return fold_native(wide + tail_sum(p + i, n - i));
}

std::uint32_t copy_sum16(std::byte* to, std::span<const std::byte> from) {
    const auto* p = reinterpret_cast<const unsigned char*>(from.data());
    auto* q = reinterpret_cast<unsigned char*>(to);
    const std::size_t n = from.size();
    std::uint64_t wide = 0;
    std::size_t i = 0;
#if defined(__SSE2__)
    // Each 16-byte load is stored and its four 32-bit words widened into 64-bit lanes.
    const __m128i zero = _mm_setzero_si128();
    __m128i low = zero;
    __m128i high = zero;
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), v);
        low = _mm_add_epi64(low, _mm_unpacklo_epi32(v, zero));
        high = _mm_add_epi64(high, _mm_unpackhi_epi32(v, zero));
    }
    std::uint64_t lanes[4];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), low);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes + 2), high);
    for (const std::uint64_t lane : lanes) {
        wide += (lane & 0xFFFFFFFF) + (lane >> 32);
    }
#else
    for (; i + 16 <= n; i += 16) {
        std::uint64_t w[2] = {};
        std::memcpy(w, p + i, 16);
        std::memcpy(q + i, w, 16);
        wide += (w[0] & 0xFFFFFFFF) + (w[0] >> 32) + (w[1] & 0xFFFFFFFF) + (w[1] >> 32);
    }
#endif
    std::memcpy(q + i, p + i, n - i);
    return fold_native(wide + tail_sum(p + i, n - i));
}

} // namespace hoplens::capture
