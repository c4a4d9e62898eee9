#include "capture/capture.hpp"

namespace hoplens::capture {

std::vector<std::span<const std::byte>> pcapng_buffer::pieces() const {
    std::vector<std::span<const std::byte>> out;
    out.reserve(2 * references_.size() + 1);
    const auto* copied = reinterpret_cast<const std::byte*>(copied_.data());
    std::size_t from = 0;
    for (const reference_at& r : references_) {
        if (r.copied_offset > from) {
            out.emplace_back(copied + from, r.copied_offset - from);
        }
        out.push_back(r.bytes);
        from = r.copied_offset;
    }
    if (copied_.size() > from) {
        out.emplace_back(copied + from, copied_.size() - from);
    }
    return out;
}

} // namespace hoplens::capture
