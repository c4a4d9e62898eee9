#pragma once
// One more on a counter for as long as this lives: what a graceful stop waits on (exchanges
// in flight, open tunnels), read by another thread.

#include <atomic>
#include <cstdint>

namespace hoplens::proxy {

class scoped_count {
  public:
    explicit scoped_count(std::atomic<std::uint64_t>& n) : n_(n) {
        n_.fetch_add(1, std::memory_order_relaxed);
    }
    ~scoped_count() {
        n_.fetch_sub(1, std::memory_order_relaxed);
    }
    scoped_count(const scoped_count&) = delete;
    scoped_count& operator=(const scoped_count&) = delete;

  private:
    std::atomic<std::uint64_t>& n_;
};

} // namespace hoplens::proxy
