#pragma once
// One capture output file (HAR, pcapng or key log) as the capture thread writes it: positioned
// writes, mode 0600 for secrets, a write error logged once and counted.

#include "diag/counters.hpp"
#include "proxy/write_behind.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <span>
#include <string_view>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace hoplens::proxy {

// One output file. After a failed write it is left as it was before that write (valid) and
// is written no more until reopen(): later writes would depend on the one that failed.
class output_file {
  public:
    // `behind` (may be null: no write-behind) outlives this file.
    output_file(std::filesystem::path path, bool append_mode, diag::proxy_counters& counters,
                write_behind* behind = nullptr)
        : path_(std::move(path)), append_mode_(append_mode), counters_(counters), behind_(behind) {
    }
    ~output_file() {
        close();
    }

    bool configured() const {
        return !path_.empty();
    }
    bool writable() const {
        return fd_ >= 0 && !broken_;
    }

    void open() {
        close();
        broken_ = false;
        if (!configured()) {
            return;
        }
        const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append_mode_ ? O_APPEND : O_TRUNC);
        fd_ = ::open(path_.c_str(), flags, append_mode_ ? 0600 : 0644);
        if (fd_ < 0) {
            fail("open");
            return;
        }
        if (append_mode_ && ::fchmod(fd_, 0600) != 0) { // key material: owner only
            fail("chmod 0600");
            return;
        }
        struct stat st {};
        size_ = ::fstat(fd_, &st) == 0 ? std::uint64_t(st.st_size) : 0;
        allocated_ = size_;
        preallocating_ = !append_mode_;
        written_back_ = size_ / write_behind_step * write_behind_step;
        dropped_to_ = 0;
        logged_ = false;
    }

    void close() {
        if (fd_ >= 0) {
            if (allocated_ > size_) {
                (void)!::ftruncate(fd_, off_t(size_)); // gives back the blocks not written
            }
            ::close(fd_);
            fd_ = -1;
        }
    }

    // Writes `pieces` in order at `offset` (pwritev), or at the end when offset is npos. On
    // failure the file is cut back to its size before the write and `restore` is written at
    // `restore_offset` (HAR: its closing brackets), so that what is on disk stays valid.
    void write(std::span<const std::span<const std::byte>> pieces, std::uint64_t offset = npos,
               std::string_view restore = {}, std::uint64_t restore_offset = 0) {
        if (!writable()) {
            return;
        }
        std::vector<iovec> iov;
        iov.reserve(pieces.size());
        std::uint64_t total = 0;
        for (const auto p : pieces) {
            if (!p.empty()) {
                iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
                total += p.size();
            }
        }
        const std::uint64_t at = offset == npos ? size_ : offset;
        preallocate(at + total);
        std::uint64_t done = 0;
        std::size_t first = 0;
        while (first < iov.size()) {
            const int count = int(std::min<std::size_t>(iov.size() - first, IOV_MAX));
            const ssize_t n = append_mode_ ? ::writev(fd_, &iov[first], count)
                                           : ::pwritev(fd_, &iov[first], count, off_t(at + done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                const int err = n < 0 ? errno : ENOSPC;
                if (!append_mode_) {
                    (void)!::ftruncate(fd_, off_t(size_));
                    allocated_ = size_;
                    if (!restore.empty()) {
                        (void)!::pwrite(fd_, restore.data(), restore.size(), off_t(restore_offset));
                    }
                }
                errno = err;
                fail("write");
                broken_ = true;
                return;
            }
            done += std::uint64_t(n);
            for (auto left = std::size_t(n); left > 0;) { // past what was written
                const std::size_t step = std::min(left, iov[first].iov_len);
                iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + step;
                iov[first].iov_len -= step;
                left -= step;
                first += iov[first].iov_len == 0 ? 1 : 0;
            }
        }
        size_ = std::max(size_, at + total);
        hand_to_write_behind();
    }

    void write(std::string_view bytes, std::uint64_t offset = npos, std::string_view restore = {},
               std::uint64_t restore_offset = 0) {
        const std::span<const std::byte> piece = std::as_bytes(std::span(bytes));
        write({&piece, 1}, offset, restore, restore_offset);
    }

    static constexpr std::uint64_t npos = ~std::uint64_t{0};

  private:
    // The blocks of a growing file are allocated ahead of the data, prealloc_bytes at a time
    // (FALLOC_FL_KEEP_SIZE: the size still says what was written). ext4 then maps each
    // written page to a block it has already instead of reserving one per page: writing
    // 2 GiB in 256 KiB pieces took 0.51-0.57 s of system time instead of 0.63-0.97 here.
    // Best effort: where fallocate is refused (a filesystem without it, a disk too full for a
    // whole step) the file is written as before; close() gives back what was not used.
    void preallocate(std::uint64_t end) {
        if (!preallocating_ || end <= allocated_) {
            return;
        }
        const std::uint64_t to = (end + prealloc_bytes - 1) / prealloc_bytes * prealloc_bytes;
        if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, off_t(allocated_), off_t(to - allocated_)) != 0) {
            preallocating_ = false;
            return;
        }
        allocated_ = to;
    }

    // Hands each full step of a growing file to the write-behind thread (see
    // proxy/write_behind.hpp), and the steps written write_behind_lag steps ago, by now
    // clean, to leave the page cache. Steps are offered more than once: one still being
    // written may be clean later.
    void hand_to_write_behind() {
        const std::uint64_t full = size_ / write_behind_step * write_behind_step;
        if (behind_ == nullptr || full <= written_back_) {
            return;
        }
        const std::uint64_t lag = write_behind_lag * write_behind_step;
        const std::uint64_t drop_to = full > lag ? full - lag : 0;
        const std::uint64_t drop_from = dropped_to_ > lag ? dropped_to_ - lag : 0;
        behind_->submit(fd_, written_back_, full, drop_from, drop_to);
        written_back_ = full;
        dropped_to_ = drop_to;
    }

    void fail(const char* what) {
        diag::add(counters_.capture_write_errors_total);
        if (!logged_) { // once per file until it is reopened: a full disk fails every write
            spdlog::error("capture: cannot {} {}: {}; this file is not written until reopen", what,
                          path_.string(), std::strerror(errno));
            logged_ = true;
        }
    }

    std::filesystem::path path_;
    bool append_mode_;
    diag::proxy_counters& counters_;
    write_behind* behind_;
    int fd_ = -1;
    bool broken_ = false;
    bool logged_ = false;
    std::uint64_t size_ = 0;
    std::uint64_t allocated_ = 0; // blocks allocated up to here (>= size_ while preallocating)
    bool preallocating_ = false;
    std::uint64_t written_back_ = 0; // sent to the disk up to here (a multiple of the step)
    std::uint64_t dropped_to_ = 0;   // offered to leave the page cache up to here

    static constexpr std::uint64_t prealloc_bytes = 16 * 1024 * 1024;
    static constexpr std::uint64_t write_behind_step = 8 * 1024 * 1024;
    static constexpr std::uint64_t write_behind_lag = 2; // steps
};

} // namespace hoplens::proxy
