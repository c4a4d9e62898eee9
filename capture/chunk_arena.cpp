#include "capture/capture.hpp"
#include "capture/checksum.hpp"

#include <algorithm>
#include <cstring>

namespace hoplens::capture {

namespace {

// Relay reads are at most a few TLS records (16 KiB each): a block holds many of them. A
// larger chunk gets a block of its own, which is not kept.
constexpr std::size_t block_bytes = 256 * 1024;
// Blocks kept for reuse by one arena: enough for a busy batch without holding on to the
// peak of a burst.
constexpr std::size_t max_spare_blocks = 32;

} // namespace

summed_bytes chunk_arena::add(std::span<const std::byte> bytes) {
    constexpr std::size_t piece = summed_bytes::piece_bytes;
    const std::size_t pieces = (bytes.size() + piece - 1) / piece;
    // The sums follow the bytes, 4-byte aligned.
    const std::size_t sums_at = (bytes.size() + 3) & ~std::size_t{3};
    const std::size_t needed = sums_at + pieces * sizeof(std::uint32_t) + 3; // + alignment
    if (used_.empty() || used_.back().capacity - fill_ < needed) {
        if (needed <= block_bytes && !spare_.empty()) {
            used_.push_back(std::move(spare_.back()));
            spare_.pop_back();
        } else {
            const std::size_t capacity = std::max(block_bytes, needed);
            used_.push_back({std::make_unique_for_overwrite<std::byte[]>(capacity), capacity});
        }
        fill_ = 0;
    }
    fill_ = (fill_ + 3) & ~std::size_t{3}; // so the sums are aligned: a block start is
    std::byte* at = used_.back().data.get() + fill_;
    auto* sums = reinterpret_cast<std::uint32_t*>(at + sums_at);
    for (std::size_t i = 0; i < pieces; ++i) {
        const auto from = bytes.subspan(i * piece, std::min(piece, bytes.size() - i * piece));
        sums[i] = copy_sum16(at + i * piece, from);
    }
    fill_ += sums_at + pieces * sizeof(std::uint32_t);
    size_ += bytes.size();
    return {{at, bytes.size()}, {sums, pieces}};
}

void chunk_arena::clear() {
    for (block& b : used_) {
        if (b.capacity == block_bytes && spare_.size() < max_spare_blocks) {
            spare_.push_back(std::move(b));
        }
    }
    used_.clear();
    fill_ = 0;
    size_ = 0;
}

} // namespace hoplens::capture
