#include "proxy/capture_sink.hpp"

#include "proxy/capture_file.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <malloc.h>
#include <mutex>
#include <sys/stat.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <optional>
#include <unordered_map>
#include <variant>
#include <pthread.h>

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
    capture::summed_bytes bytes; // in the chunk_arena queued with the event
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
    // Events of this connection were dropped just before this one, with these chunk bytes.
    std::optional<capture::lost_bytes> lost_before = std::nullopt;
};

} // namespace

struct capture_sink::impl {
    capture_sink_options options;
    diag::proxy_counters& counters;
    write_behind behind; // before the files: they hand work to it until they close
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
    std::unordered_map<conn_id, capture::lost_bytes> lost_since; // guarded by mutex
    bool reopen_requested = false;          // guarded by mutex
    bool stopping = false;                  // guarded by mutex
    bool idle = false;                      // guarded by mutex: run() waits for events
    std::thread thread;

    impl(const capture_sink_options& o, diag::proxy_counters& c)
        : options(o), counters(c), har(o.har, false, c, &behind),
          pcapng(o.pcapng, false, c, &behind),
          keylog(o.keylog, true, c) {
    }

    bool capturing() const {
        return har.configured() || pcapng.configured();
    }

    // Control events are tiny and the recorder's state depends on them, so they are only
    // refused past a hard limit, and a connection's end never is (one per connection: the
    // recorder would otherwise keep its state, bodies included, for good); chunks are refused
    // as soon as the budget is spent. A chunk's bytes are copied into the queue's arena (a
    // memcpy, no allocation) only once accepted.
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
                    : !std::holds_alternative<ev_closed>(e.what) &&
                          queue.size() >= 4 * options.queue_events;
            if (full || stopping) {
                if (per_connection) {
                    capture::lost_bytes& lost = lost_since[id];
                    if (chunk != nullptr) {
                        (chunk->dir == capture::direction::client_to_server
                             ? lost.client_to_server
                             : lost.server_to_client) += chunk_bytes.size();
                    }
                }
                diag::add(counters.capture_dropped_total);
                return;
            }
            if (per_connection && !lost_since.empty()) {
                if (const auto it = lost_since.find(id); it != lost_since.end()) {
                    e.lost_before = it->second;
                    lost_since.erase(it);
                }
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
                        r.lost(ev.id, *e.lost_before);
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
    //
    // A whole flush interval without events ends a burst: the heap then gives back what the
    // burst's large buffers (bodies, queue blocks, base64 text) left free. glibc keeps those in
    // the heap (run.cpp's mmap threshold, so that busy exchanges reuse them instead of
    // faulting in fresh pages): without the trim, a capture of 16 parallel 10 MiB downloads
    // left the process at ~140 MB resident instead of ~40.
    void run() {
        std::vector<event> batch;
        capture::chunk_arena batch_bytes;
        bool worked_since_trim = false;
        for (;;) {
            bool reopen = false;
            bool stop = false;
            bool quiet = false; // a flush interval passed without an event
            {
                std::unique_lock lock(mutex);
                if (queue.empty() && !stopping && !reopen_requested) {
                    idle = true;
                    quiet = !wake.wait_for(lock, options.flush_interval, [&] {
                        return !queue.empty() || stopping || reopen_requested;
                    });
                    idle = false;
                }
                batch.swap(queue);
                std::swap(batch_bytes, queued_bytes);
                reopen = std::exchange(reopen_requested, false);
                stop = stopping;
            }
            if (quiet && worked_since_trim) {
                ::malloc_trim(0);
                worked_since_trim = false;
            }
            worked_since_trim = worked_since_trim || !batch.empty();
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
    s.thread = std::thread([&s] {
        ::pthread_setname_np(::pthread_self(), "hoplens-capture");
        s.run();
    });
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
