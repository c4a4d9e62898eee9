#include "proxy/direct_append_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <pthread.h>
#include <unistd.h>

namespace hoplens::proxy {

direct_append_file::direct_append_file(std::filesystem::path path,
                                       diag::proxy_counters& counters)
    : path_(std::move(path)), failures_(path_, counters) {
}

direct_append_file::~direct_append_file() {
    close();
}

void direct_append_file::open() {
    close();
    broken_ = false;
    staged_ = 0;
    staged_at_ = 0;
    flushed_ = 0;
    if (!configured()) {
        return;
    }
    failures_.reset();
    if (!staging_) {
        const auto allocate = [] {
            buffer b(static_cast<std::byte*>(std::aligned_alloc(block_bytes, buffer_bytes)));
            if (!b) {
                throw std::bad_alloc();
            }
            return b;
        };
        staging_ = allocate();
        while (spare_.size() + 1 < buffer_count) {
            spare_.push_back(allocate());
        }
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        fail("open");
        return;
    }
    direct_fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT); // EINVAL: not here
    direct_ = direct_fd_ >= 0;
    if (direct_) {
        write_errno_ = 0;
        stopping_ = false;
        writer_ = std::thread([this] {
            ::pthread_setname_np(::pthread_self(), "hoplens-pcapng");
            run_writer();
        });
    }
}

void direct_append_file::close() {
    if (fd_ < 0) {
        return;
    }
    flush();
    if (writer_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        writer_.join();
    }
    if (direct_fd_ >= 0) {
        ::close(direct_fd_);
        direct_fd_ = -1;
    }
    ::close(fd_);
    fd_ = -1;
}

void direct_append_file::append(std::span<const std::span<const std::byte>> pieces) {
    if (fd_ < 0 || broken_) {
        return;
    }
    for (auto piece : pieces) {
        while (!piece.empty()) {
            const std::size_t n = std::min(piece.size(), buffer_bytes - staged_);
            std::memcpy(staging_.get() + staged_, piece.data(), n);
            staged_ += n;
            piece = piece.subspan(n);
            if (staged_ == buffer_bytes && !submit(staged_)) {
                return;
            }
        }
    }
    submit(direct_ ? staged_ & ~(block_bytes - 1) : staged_);
}

void direct_append_file::flush() {
    if (fd_ < 0 || broken_) {
        return;
    }
    if (!wait_for_writer()) {
        fail("write");
        return;
    }
    // Only a direct file has a tail left: through the page cache, since it is not a whole block.
    if (staged_ > 0 && !write_at(fd_, staging_.get(), staged_, staged_at_)) {
        fail("write");
        return;
    }
    flushed_ = staged_at_ + staged_;
}

// Hands the first `bytes` staged to the writer; what follows them moves to a spare buffer,
// which becomes the staging buffer. While the writer holds every spare (or where there is no
// writer), writes them here, through the page cache.
bool direct_append_file::submit(std::size_t bytes) {
    if (bytes == 0) {
        return true;
    }
    buffer next;
    int writer_errno = 0;
    if (direct_) {
        std::lock_guard lock(mutex_);
        writer_errno = write_errno_;
        if (writer_errno == 0 && !spare_.empty()) {
            next = std::move(spare_.back());
            spare_.pop_back();
        }
    }
    if (writer_errno != 0) {
        errno = writer_errno;
        fail("write");
        return false;
    }
    if (next) {
        std::memcpy(next.get(), staging_.get() + bytes, staged_ - bytes);
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back({std::move(staging_), bytes, staged_at_});
        }
        changed_.notify_all();
        staging_ = std::move(next);
    } else {
        if (!write_at(fd_, staging_.get(), bytes, staged_at_)) {
            fail("write");
            return false;
        }
        std::memmove(staging_.get(), staging_.get() + bytes, staged_ - bytes);
    }
    staged_ -= bytes;
    staged_at_ += bytes;
    return true;
}

// Until everything handed over is written; false (errno set) if a write failed.
bool direct_append_file::wait_for_writer() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return (jobs_.empty() && !writing_) || write_errno_ != 0; });
    errno = write_errno_;
    return write_errno_ == 0;
}

void direct_append_file::run_writer() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
        if (jobs_.empty()) {
            return; // stopping, and close() flushed first
        }
        write_job job = std::move(jobs_.front());
        jobs_.pop_front();
        writing_ = true;
        const bool failed_before = write_errno_ != 0;
        lock.unlock();
        bool ok = !failed_before && write_at(direct_fd_, job.data.get(), job.size, job.offset);
        if (!ok && !failed_before && errno == EINVAL) {
            direct_ = false; // an alignment this filesystem does not take: the page cache from now
            ok = write_at(fd_, job.data.get(), job.size, job.offset);
        }
        const int err = errno;
        lock.lock();
        writing_ = false;
        if (!ok && write_errno_ == 0) {
            write_errno_ = err;
        }
        spare_.push_back(std::move(job.data));
        changed_.notify_all();
    }
}

bool direct_append_file::write_at(int fd, const std::byte* data, std::size_t size,
                                  std::uint64_t offset) {
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, data, size, off_t(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            errno = n < 0 ? errno : ENOSPC;
            return false;
        }
        data += n;
        size -= std::size_t(n);
        offset += std::uint64_t(n);
    }
    return true;
}

// Cuts the file back to what the last flush left, a valid pcapng, once the writer is done.
void direct_append_file::fail(const char* what) {
    failures_.report(what);
    broken_ = true;
    if (fd_ >= 0) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !writing_; });
        for (auto& job : jobs_) { // not written: the file is not written until open()
            spare_.push_back(std::move(job.data));
        }
        jobs_.clear();
        (void)!::ftruncate(fd_, off_t(flushed_));
    }
}

} // namespace hoplens::proxy
