#include "capture/capture.hpp"

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

std::span<const std::byte> chunk_arena::add(std::span<const std::byte> bytes) {
    if (used_.empty() || used_.back().capacity - fill_ < bytes.size()) {
        if (bytes.size() <= block_bytes && !spare_.empty()) {
            used_.push_back(std::move(spare_.back()));
            spare_.pop_back();
        } else {
            const std::size_t capacity = std::max(block_bytes, bytes.size());
            used_.push_back({std::make_unique_for_overwrite<std::byte[]>(capacity), capacity});
        }
        fill_ = 0;
    }
    std::byte* at = used_.back().data.get() + fill_;
    std::memcpy(at, bytes.data(), bytes.size());
    fill_ += bytes.size();
    size_ += bytes.size();
    return {at, bytes.size()};
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
