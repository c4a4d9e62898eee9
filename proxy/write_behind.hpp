#pragma once
// Write-behind for growing capture files, on a thread of its own. Left to itself the kernel
// keeps every page of a growing capture cached (gigabytes, evicting the jump host's own
// cache) and takes a fresh page for each new one; on a VM whose balloon hands freed guest
// pages back to the host, the host then faults each fresh page in again inside the copy
// (copy_folio_from_iter_atomic was 35% of the proxy's CPU in capture-on bulk here). Sending
// each finished part of the file to the disk at once and dropping it from the cache once
// clean keeps a few steps of pages in use, over and over: writing 2 GiB in 256 KiB pieces
// cost 0.6-0.8 s of system time instead of 1.4-2.0 (bench/capture_write.py).
//
// Starting writeback can block for as long as the disk's queue is full (0.3 s was seen
// here), so it is not done on the capture thread, which would then drop chunks: a job waits
// here instead, and when jobs pile up behind a slow disk the newest are skipped, leaving
// their pages to the kernel's own writeback and reclaim, as without this.
//
// Thread Safety: submit() and wait_idle() may be called from any thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

namespace hoplens::proxy {

class write_behind {
  public:
    write_behind();
    ~write_behind(); // skips the jobs still queued: their pages are the kernel's to write
    write_behind(const write_behind&) = delete;
    write_behind& operator=(const write_behind&) = delete;

    // In the file open as `fd` (duplicated here: the caller may close it at once), the bytes
    // [write_from, write_to) are final: start writing them to the disk; [drop_from, drop_to)
    // was started earlier: drop what of it is clean from the page cache.
    void submit(int fd, std::uint64_t write_from, std::uint64_t write_to, std::uint64_t drop_from,
                std::uint64_t drop_to);
    // Returns when every job submitted so far is done or skipped.
    void wait_idle();

  private:
    struct job {
        int fd;
        std::uint64_t write_from, write_to, drop_from, drop_to;
    };
    void run();

    static constexpr std::size_t max_backlog = 8;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<job> jobs_; // guarded by mutex_
    bool busy_ = false;    // guarded by mutex_: a job is being done
    bool stopping_ = false; // guarded by mutex_
    std::thread thread_; // guarded by mutex_ until started
};

} // namespace hoplens::proxy
