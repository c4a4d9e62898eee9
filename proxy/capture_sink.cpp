#include "proxy/capture_sink.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>
#include <variant>

namespace hoplens::proxy {

namespace {

using capture::conn_id;

struct ev_opened {
    capture::connection_info info;
};
struct ev_attached {
    conn_id id;
    capture::endpoint upstream;
    capture::connect_timings timings;
};
struct ev_chunk {
    conn_id id;
    capture::direction dir;
    capture::time_point at;
    std::span<const std::byte> bytes; // in the chunk_arena queued with the event
};
struct ev_closed {
    conn_id id;
    capture::time_point at;
    bool aborted;
};
struct ev_keylog {
    std::string line;
};
struct event {
    std::variant<ev_opened, ev_attached, ev_chunk, ev_closed, ev_keylog> what;
    bool lost_before = false; // events of this connection were dropped just before this one
};

// One output file. After a failed write it is left as it was before that write (valid) and
// is written no more until reopen(): later writes would depend on the one that failed.
class output_file {
  public:
    output_file(std::filesystem::path path, bool append_mode, diag::proxy_counters& counters)
        : path_(std::move(path)), append_mode_(append_mode), counters_(counters) {
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
        logged_ = false;
    }

    void close() {
        if (fd_ >= 0) {
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
    }

    void write(std::string_view bytes, std::uint64_t offset = npos, std::string_view restore = {},
               std::uint64_t restore_offset = 0) {
        const std::span<const std::byte> piece = std::as_bytes(std::span(bytes));
        write({&piece, 1}, offset, restore, restore_offset);
    }

    static constexpr std::uint64_t npos = ~std::uint64_t{0};

  private:
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
    int fd_ = -1;
    bool broken_ = false;
    bool logged_ = false;
    std::uint64_t size_ = 0;
};

} // namespace

struct capture_sink::impl {
    capture_sink_options options;
    diag::proxy_counters& counters;
    output_file har;
    output_file pcapng;
    output_file keylog;
    std::unique_ptr<capture::recorder> recorder;
    capture::file_write har_write;     // capture thread only
    capture::pcapng_buffer pcapng_out; // capture thread only

    std::mutex mutex;
    std::condition_variable wake;
    std::vector<event> queue;               // guarded by mutex
    capture::chunk_arena queued_bytes;      // guarded by mutex: the bytes of queued chunks
    std::unordered_set<conn_id> lost_since; // guarded by mutex
    bool reopen_requested = false;          // guarded by mutex
    bool stopping = false;                  // guarded by mutex
    bool idle = false;                      // guarded by mutex: run() waits for events
    std::thread thread;

    impl(const capture_sink_options& o, diag::proxy_counters& c)
        : options(o), counters(c), har(o.har, false, c), pcapng(o.pcapng, false, c),
          keylog(o.keylog, true, c) {
    }

    bool capturing() const {
        return har.configured() || pcapng.configured();
    }

    // Control events are tiny and the recorder's state depends on them, so they are only
    // refused past a hard limit; chunks are refused as soon as the budget is spent. A chunk's
    // bytes are copied into the queue's arena (a memcpy, no allocation) only once accepted.
    void push(event e, conn_id id, std::span<const std::byte> chunk_bytes = {},
              bool per_connection = true) {
        auto* chunk = std::get_if<ev_chunk>(&e.what);
        bool notify = false;
        {
            std::lock_guard lock(mutex);
            const bool full =
                chunk != nullptr
                    ? (queued_bytes.size() + chunk_bytes.size() > options.queue_bytes ||
                       queue.size() >= options.queue_events)
                    : queue.size() >= 4 * options.queue_events;
            if (full || stopping) {
                if (per_connection) {
                    lost_since.insert(id);
                }
                diag::add(counters.capture_dropped_total);
                return;
            }
            if (per_connection && !lost_since.empty() && lost_since.erase(id) > 0) {
                e.lost_before = true;
            }
            if (chunk != nullptr) {
                chunk->bytes = queued_bytes.add(chunk_bytes);
            }
            notify = std::exchange(idle, false);
            queue.push_back(std::move(e));
        }
        if (notify) {
            wake.notify_one();
        }
    }

    void apply(event& e) {
        auto& r = *recorder;
        std::visit(
            [&](auto& ev) {
                using T = std::decay_t<decltype(ev)>;
                if constexpr (std::is_same_v<T, ev_keylog>) {
                    ev.line += '\n';
                    keylog.write(ev.line);
                } else if constexpr (std::is_same_v<T, ev_opened>) {
                    r.opened(ev.info);
                } else {
                    if (e.lost_before) {
                        r.lost(ev.id);
                    }
                    if constexpr (std::is_same_v<T, ev_attached>) {
                        r.upstream_attached(ev.id, ev.upstream, ev.timings);
                    } else if constexpr (std::is_same_v<T, ev_chunk>) {
                        r.chunk(ev.id, ev.dir, ev.at, ev.bytes);
                    } else {
                        r.closed(ev.id, ev.at, ev.aborted);
                    }
                }
            },
            e.what);
    }

    // Runs before the bytes of the batch are released: the pcapng output references them.
    void write_outputs() {
        if (recorder->take_har_write(har_write)) {
            // Every write ends with the closing `]}}\n` it replaces: on failure that goes back.
            const std::string& b = har_write.bytes;
            const auto tail =
                std::string_view(b).substr(b.size() - std::min<std::size_t>(4, b.size()));
            har.write(b, har_write.offset, har_write.offset == 0 ? std::string_view{} : tail,
                      har_write.offset);
        }
        recorder->take_pcapng(pcapng_out);
        if (!pcapng_out.empty()) {
            pcapng.write(pcapng_out.pieces());
        }
    }

    void open_all(capture::time_point now) {
        har.open();
        pcapng.open();
        keylog.open();
        recorder->restart_har(now);
        recorder->restart_pcapng();
        write_outputs();
    }

    // Writes after every batch. An idle thread is woken by the first event, so a HAR entry
    // reaches the disk as soon as it is complete; after a batch it takes events again only
    // after batch_pause, without being woken per event. Waking per event costs the relay a
    // futex wake and, where both share a core, two context switches per chunk: that halved
    // the relay's rate. The pause bounds both the wakeups (at most 1/batch_pause per second)
    // and what a kill -9 can lose (the exchanges of the last pause).
    void run() {
        std::vector<event> batch;
        capture::chunk_arena batch_bytes;
        for (;;) {
            bool reopen = false;
            bool stop = false;
            {
                std::unique_lock lock(mutex);
                if (queue.empty() && !stopping && !reopen_requested) {
                    idle = true;
                    wake.wait_for(lock, options.flush_interval,
                                  [&] { return !queue.empty() || stopping || reopen_requested; });
                    idle = false;
                }
                batch.swap(queue);
                std::swap(batch_bytes, queued_bytes);
                reopen = std::exchange(reopen_requested, false);
                stop = stopping;
            }
            for (event& e : batch) {
                apply(e);
            }
            write_outputs();
            batch.clear();
            batch_bytes.clear();
            if (reopen) {
                open_all(std::chrono::system_clock::now());
            }
            if (stop) {
                return; // push() refuses events once stopping is set: the queue was drained
            }
            std::unique_lock lock(mutex);
            wake.wait_for(lock, options.batch_pause, [&] { return stopping || reopen_requested; });
        }
    }
};

capture_sink::capture_sink(const capture_sink_options& options, diag::proxy_counters& counters)
    : impl_(std::make_unique<impl>(options, counters)) {
    impl& s = *impl_;
    if (!s.capturing() && !s.keylog.configured()) {
        return;
    }
    capture::recorder_options ro;
    ro.creator_version = options.version;
    ro.body_cap_bytes = options.body_cap_bytes;
    ro.har = s.har.configured();
    ro.pcapng = s.pcapng.configured();
    const auto now = std::chrono::system_clock::now();
    s.recorder = std::make_unique<capture::recorder>(ro, now);
    s.open_all(now);
    s.thread = std::thread([&s] { s.run(); });
}

capture_sink::~capture_sink() {
    stop();
}

bool capture_sink::enabled() const {
    return impl_->capturing();
}

bool capture_sink::keylog_enabled() const {
    return impl_->keylog.configured();
}

void capture_sink::opened(const capture::connection_info& info) {
    if (enabled()) {
        impl_->push({ev_opened{info}}, info.id);
    }
}

void capture_sink::upstream_attached(capture::conn_id id, const capture::endpoint& upstream,
                                     const capture::connect_timings& timings) {
    if (enabled()) {
        impl_->push({ev_attached{id, upstream, timings}}, id);
    }
}

void capture_sink::chunk(capture::conn_id id, capture::direction dir, capture::time_point at,
                         std::span<const std::byte> bytes) {
    if (enabled() && !bytes.empty()) {
        impl_->push({ev_chunk{id, dir, at, {}}}, id, bytes);
    }
}

void capture_sink::closed(capture::conn_id id, capture::time_point at, bool aborted) {
    if (enabled()) {
        impl_->push({ev_closed{id, at, aborted}}, id);
    }
}

void capture_sink::keylog_line(std::string_view line) {
    if (keylog_enabled()) {
        impl_->push({ev_keylog{std::string(line)}}, 0, {}, false);
    }
}

void capture_sink::reopen() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->reopen_requested = true;
    }
    impl_->wake.notify_one();
}

void capture_sink::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_one();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

} // namespace hoplens::proxy
