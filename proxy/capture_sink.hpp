#pragma once
// The I/O side of the captures: the relay publishes connection events and chunks here, and
// one capture thread feeds them to capture::recorder and writes the HAR, pcapng and key-log
// files. Publishing never blocks on I/O: events go into a bounded queue; when it is full the
// chunk is dropped, counted in capture_dropped_total, and the connection's exchange in flight
// is recorded as incomplete. Write errors (a full disk) are logged once, counted in
// capture_write_errors_total, and stop that file until reopen(); the relay is not affected.
//
// Thread Safety: every public member may be called from any thread, concurrently. Events of
// one connection must be published in the order they happened (one worker thread does).

#include "capture/capture.hpp"
#include "diag/counters.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace hoplens::proxy {

struct capture_sink_options {
    std::filesystem::path har;    // empty: no HAR
    std::filesystem::path pcapng; // empty: no pcapng
    std::filesystem::path keylog; // empty: no key log
    std::string version;          // log.creator.version
    std::size_t body_cap_bytes = 1024 * 1024;
    std::size_t queue_bytes = 64 * 1024 * 1024; // chunk bytes waiting for the capture thread
    std::size_t queue_events = 64 * 1024;       // events waiting
    std::chrono::milliseconds flush_interval{1000};
    std::chrono::microseconds batch_pause{2000}; // between batches under load (see run())
};

class capture_sink {
  public:
    // Opens the files (truncating HAR and pcapng; appending to the key log, mode 0600) and
    // starts the capture thread if any file is configured. A file that cannot be opened is
    // logged and counted; the others still work.
    capture_sink(const capture_sink_options& options, diag::proxy_counters& counters);
    ~capture_sink(); // stop()
    capture_sink(const capture_sink&) = delete;
    capture_sink& operator=(const capture_sink&) = delete;

    // HAR or pcapng is on: publish connection events and chunks.
    bool enabled() const;
    // The key log is on: install the SSL_CTX keylog callback.
    bool keylog_enabled() const;

    void opened(const capture::connection_info& info);
    void upstream_attached(capture::conn_id id, const capture::endpoint& upstream,
                           const capture::connect_timings& timings);
    // Copies `bytes` into the queue (only if there is room).
    void chunk(capture::conn_id id, capture::direction dir, capture::time_point at,
               std::span<const std::byte> bytes);
    void closed(capture::conn_id id, capture::time_point at, bool aborted);
    // One NSS key-log line as OpenSSL's keylog callback gives it (no newline).
    void keylog_line(std::string_view line);

    // SIGHUP: close and reopen every path, each starting a fresh valid file.
    void reopen();
    // Drain the queue, write everything, close the files valid. Idempotent.
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hoplens::proxy
