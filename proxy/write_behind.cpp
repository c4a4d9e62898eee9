#include "proxy/write_behind.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace hoplens::proxy {

write_behind::write_behind() = default;

write_behind::~write_behind() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
    for (const job& j : jobs_) {
        ::close(j.fd);
    }
}

void write_behind::submit(int fd, std::uint64_t write_from, std::uint64_t write_to,
                          std::uint64_t drop_from, std::uint64_t drop_to) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || jobs_.size() >= max_backlog) {
            return;
        }
        const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0) {
            return;
        }
        jobs_.push_back({copy, write_from, write_to, drop_from, drop_to});
        if (!thread_.joinable()) { // started by the first job: a proxy without captures has none
            thread_ = std::thread([this] {
                ::pthread_setname_np(::pthread_self(), "hoplens-wb");
                run();
            });
        }
    }
    wake_.notify_one();
}

void write_behind::wait_idle() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return jobs_.empty() && !busy_; });
}

void write_behind::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) {
            return;
        }
        const job j = jobs_.front();
        jobs_.pop_front();
        busy_ = true;
        lock.unlock();
        if (j.write_to > j.write_from) {
            (void)::sync_file_range(j.fd, off_t(j.write_from), off_t(j.write_to - j.write_from),
                                    SYNC_FILE_RANGE_WRITE);
        }
        if (j.drop_to > j.drop_from) {
            (void)::posix_fadvise(j.fd, off_t(j.drop_from), off_t(j.drop_to - j.drop_from),
                                  POSIX_FADV_DONTNEED);
        }
        ::close(j.fd);
        lock.lock();
        busy_ = false;
        if (jobs_.empty()) {
            idle_.notify_all();
        }
    }
}

} // namespace hoplens::proxy
