#pragma once
// The pcapng file: appended to with O_DIRECT from a staging buffer, so that a capture's bulk
// does not go through the page cache.
//
// Why: in bulk captures the kernel's copy into fresh page-cache pages was 40 of the capture
// thread's 51% of CPU on the relay's core (on VMs whose balloon reports free pages to the host,
// every new page-cache page costs a host fault: `dd` 1.42 s of system time per GiB through the
// page cache, 0.15 s with O_DIRECT), and a capture running for hours would push the jump
// host's own files out of the cache for data nobody reads back soon.
//
// Whole blocks go to the disk as they are appended, written by a thread of the file's own so
// that the capture thread does not wait for the disk (synchronous direct writes made it fall
// behind a bulk relay and drop). When that thread is behind by all its buffers (a burst faster
// than the disk), blocks go through the page cache instead, which absorbs the burst as a
// buffered file would. The sub-block tail waits in the staging buffer and goes through the
// page cache on flush(), so that after every flush the file holds everything appended (the
// next direct write of that block replaces the cached page). Where O_DIRECT is refused (a
// filesystem without it, an alignment it does not take) everything goes through the page
// cache, all of each append at once.
//
// The file is open twice: with O_DIRECT for the writer, and without it for the rest.
// One thread appends and flushes; the writer thread only writes what it is handed, in order.

#include "proxy/capture_file.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace hoplens::proxy {

class direct_append_file {
  public:
    direct_append_file(std::filesystem::path path, diag::proxy_counters& counters);
    ~direct_append_file();
    direct_append_file(const direct_append_file&) = delete;
    direct_append_file& operator=(const direct_append_file&) = delete;

    bool configured() const {
        return !path_.empty();
    }
    // Whether the file bypasses the page cache (false where O_DIRECT was refused).
    bool direct() const {
        return direct_;
    }

    void open(); // creates or truncates
    void close();
    // Appends `pieces` (whole pcapng blocks, so that a file cut back after a failed write is
    // still valid). After a failed write the file is cut back to what the last flush left and
    // written no more until open().
    void append(std::span<const std::span<const std::byte>> pieces);
    // Waits for the writer, then puts the staged tail in the file.
    void flush();

  private:
    struct free_deleter {
        void operator()(std::byte* p) const {
            std::free(p);
        }
    };
    using buffer = std::unique_ptr<std::byte, free_deleter>;
    struct write_job {
        buffer data;
        std::size_t size;
        std::uint64_t offset;
    };

    bool submit(std::size_t bytes);
    bool wait_for_writer();
    void run_writer();
    bool write_at(int fd, const std::byte* data, std::size_t size, std::uint64_t offset);
    void fail(const char* what);

    static constexpr std::size_t block_bytes = 4096; // a multiple of every logical block size
    static constexpr std::size_t buffer_bytes = std::size_t{1} << 20;
    static constexpr std::size_t buffer_count = 4; // staging, and up to 3 on their way out

    std::filesystem::path path_;
    write_failure_log failures_;
    int fd_ = -1;        // through the page cache
    int direct_fd_ = -1; // O_DIRECT, for the writer; -1 where refused
    bool broken_ = false;
    std::atomic<bool> direct_ = false; // blocks go to direct_fd_ (the writer may turn it off)

    // The appending thread's.
    buffer staging_;
    std::size_t staged_ = 0;      // bytes in staging_, which start at file offset staged_at_
    std::uint64_t staged_at_ = 0; // block-aligned while direct_
    std::uint64_t flushed_ = 0;   // the file's size after the last flush: a valid pcapng

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<write_job> jobs_;  // guarded by mutex_: for the writer, in file order
    std::vector<buffer> spare_;   // guarded by mutex_
    bool writing_ = false;        // guarded by mutex_: the writer holds a job
    bool stopping_ = false;       // guarded by mutex_
    int write_errno_ = 0;         // guarded by mutex_: the writer's first failure
    std::thread writer_;
};

} // namespace hoplens::proxy
