#pragma once
// The bytes read from one leg and not yet consumed. The storage exists only while bytes
// flow: an idle keep-alive connection holds none (PERF-NOTES: memory per idle connection).
//
// It starts at one TLS record's size, enough for any ordinary message; a read that fills it
// marks a bulk transfer, and from then on the buffer holds four records, which the relay
// moves with one read and one write (byte_stream.hpp).

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace hoplens::proxy {

class read_buffer {
  public:
    static constexpr std::size_t small_capacity = 16 * 1024;
    static constexpr std::size_t bulk_capacity = 64 * 1024;

    std::string_view pending() const {
        return {data_.get() + begin_, end_ - begin_};
    }
    bool empty() const {
        return begin_ == end_;
    }
    void consume(std::size_t n) {
        begin_ += n;
        if (begin_ == end_) {
            begin_ = end_ = 0;
        }
    }
    // Free space after the pending bytes (moved to the front when that makes room).
    std::pair<char*, std::size_t> space() {
        if (!data_ || (empty() && allocated_ < wanted_)) {
            data_ = std::make_unique_for_overwrite<char[]>(wanted_);
            allocated_ = wanted_;
        }
        if (end_ == allocated_ && begin_ > 0) {
            std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        return {data_.get() + end_, allocated_ - end_};
    }
    void commit(std::size_t n) {
        end_ += n;
        if (end_ == allocated_) {
            wanted_ = bulk_capacity;
        }
    }
    void clear() {
        begin_ = end_ = 0;
    }
    void release_if_empty() {
        if (empty()) {
            data_.reset();
            allocated_ = 0;
            wanted_ = small_capacity;
        }
    }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t allocated_ = 0;
    std::size_t wanted_ = small_capacity;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

} // namespace hoplens::proxy
