#pragma once
// The bytes read from one leg and not yet consumed. The storage exists only while bytes
// flow: an idle keep-alive connection holds none (PERF-NOTES: memory per idle connection).

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace hoplens::proxy {

class read_buffer {
  public:
    // TLS records carry at most 16 KiB; twice that lets a plain-TCP read take more at once.
    static constexpr std::size_t capacity = 32 * 1024;

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
        if (!data_) {
            data_ = std::make_unique_for_overwrite<char[]>(capacity);
        }
        if (end_ == capacity && begin_ > 0) {
            std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        return {data_.get() + end_, capacity - end_};
    }
    void commit(std::size_t n) {
        end_ += n;
    }
    void release_if_empty() {
        if (empty()) {
            data_.reset();
        }
    }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

} // namespace hoplens::proxy
