#pragma once
// capture/: the sans-io core of hoplens's captures. It takes the events of intercepted
// connections (opened, upstream attached, timestamped byte chunks of both directions, closed)
// and turns them into bytes for two files: a HAR log (for browser devtools) and a pcapng trace
// (for Wireshark). It reads no clock, opens no file and starts no thread: proxy/capture_sink
// does the I/O and feeds a `recorder` from one capture thread.
//
// Thread Safety: none; a recorder belongs to one thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hoplens::capture {

using time_point = std::chrono::system_clock::time_point;
using conn_id = std::uint64_t;

enum class direction : std::uint8_t { client_to_server, server_to_client };

// An IP address as text ("127.0.0.1", "::1"; no brackets, no zone) and a port.
struct endpoint {
    std::string address;
    std::uint16_t port = 0;
};

// How the upstream connection used by the next exchange was obtained, in microseconds.
// -1 means the phase did not happen for this exchange (e.g. a pooled connection: all -1).
// `connect_us` is the TCP connect alone; `ssl_us` the TLS handshake after it (HAR counts ssl
// inside connect, which the writer does).
struct connect_timings {
    std::int64_t blocked_us = -1;
    std::int64_t dns_us = -1;
    std::int64_t connect_us = -1;
    std::int64_t ssl_us = -1;
};

struct connection_info {
    conn_id id = 0;
    endpoint client;
    endpoint upstream;       // may be empty until upstream_attached (explicit mode)
    std::string server_name; // SNI, CONNECT authority host or Host; used for URLs
    std::string scheme;      // "https" or "http"
    time_point opened_at;
};

struct recorder_options {
    std::string creator_version;              // log.creator.version
    // Per body, after decoding; per WebSocket, the data of all its messages kept in the HAR.
    std::size_t body_cap_bytes = 1024 * 1024;
    bool har = true;
    bool pcapng = true;
};

// "Write these bytes at this offset": the HAR file is kept valid JSON after every write by
// overwriting its closing `]}}` with the next entry and a new closing. Writes never shrink
// the file, so pwrite() without truncation is enough.
struct file_write {
    std::uint64_t offset = 0;
    std::string bytes;
};

// The bytes of a pcapng file in the making, as pieces to write in order (writev): block
// framing and small payloads are copied into one buffer, large payloads are referenced
// where the caller of recorder::chunk() keeps them, so the bulk of a capture is not copied
// on its way to the file.
class pcapng_buffer {
  public:
    // Bytes appended here are copied.
    std::string& copied() {
        return copied_;
    }
    // `bytes` go here, after what copied() holds now, without a copy.
    void reference(std::span<const std::byte> bytes) {
        references_.push_back({copied_.size(), bytes});
    }
    // The pieces in file order, valid while this buffer and the referenced bytes are.
    std::vector<std::span<const std::byte>> pieces() const;
    bool empty() const {
        return copied_.empty() && references_.empty();
    }
    // Empties the buffer and keeps its capacity.
    void clear() {
        copied_.clear();
        references_.clear();
    }

  private:
    struct reference_at {
        std::size_t copied_offset; // inserted before copied_[copied_offset]
        std::span<const std::byte> bytes;
    };
    std::string copied_;
    std::vector<reference_at> references_;
};

// Chunk bytes and, where known, the RFC 1071 sum (capture/checksum.hpp) of each piece of
// piece_bytes from their start (the last piece may be shorter): the pcapng's TCP segments
// are those pieces, and their checksums then need no pass over the bytes of their own.
struct summed_bytes {
    static constexpr std::size_t piece_bytes = 16 * 1024;
    std::span<const std::byte> bytes;
    std::span<const std::uint32_t> piece_sums; // empty, or one per piece
};

// Copies of chunk bytes that must outlive the call that gave them (a queue between threads,
// then pcapng_buffer references), kept in large blocks that clear() keeps for reuse: a chunk
// costs a memcpy (summing its pieces on the way), not an allocation.
class chunk_arena {
  public:
    chunk_arena() = default;
    chunk_arena(chunk_arena&&) noexcept = default;
    chunk_arena& operator=(chunk_arena&&) noexcept = default;

    // A copy of `bytes`, with its piece sums, which stays where it is until clear().
    summed_bytes add(std::span<const std::byte> bytes);
    // Bytes added since the last clear().
    std::size_t size() const {
        return size_;
    }
    // Forgets every copy; keeps some blocks for the next ones.
    void clear();

  private:
    struct block {
        std::unique_ptr<std::byte[]> data;
        std::size_t capacity = 0;
    };
    std::vector<block> used_;
    std::vector<block> spare_;
    std::size_t fill_ = 0; // bytes used in used_.back()
    std::size_t size_ = 0;
};

// Chunk bytes of a connection that never reached the recorder, per direction.
struct lost_bytes {
    std::uint64_t client_to_server = 0;
    std::uint64_t server_to_client = 0;
};

class recorder {
  public:
    // `started` stamps log.pages[0]; nothing else reads it.
    recorder(recorder_options options, time_point started);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    // Events of one connection, in the order they happened. Unknown ids are ignored.
    void opened(const connection_info& info);
    void upstream_attached(conn_id id, const endpoint& upstream, const connect_timings& t);
    // The pcapng output may reference the bytes (see pcapng_buffer): the caller keeps them
    // unchanged until it has written the buffer of the next take_pcapng().
    void chunk(conn_id id, direction dir, time_point at, summed_bytes bytes);
    void chunk(conn_id id, direction dir, time_point at, std::span<const std::byte> bytes) {
        chunk(id, dir, at, summed_bytes{bytes, {}});
    }
    // Some events of this connection were lost (queue full), with `bytes` of its chunks: its
    // exchanges in flight are recorded as incomplete and its HTTP reassembly stops (bytes
    // cannot be resynchronised); its TCP conversation skips the lost bytes, so that Wireshark
    // shows the gap ("previous segment not captured") instead of joining what surrounds it.
    void lost(conn_id id, lost_bytes bytes = {});
    void closed(conn_id id, time_point at, bool aborted);

    // Output produced since the last call, into `out`, whose capacity the recorder keeps
    // using: a capture thread that swaps two buffers back and forth allocates no new pages.
    // The HAR output is one write (the entries of a batch join); false when there is none.
    bool take_har_write(file_write& out);
    void take_pcapng(pcapng_buffer& out);

    // Start fresh files (SIGHUP, logrotate): the next HAR write is a complete new file at
    // offset 0 and the next pcapng bytes start with a section header. Connections in flight
    // continue in the new files.
    void restart_har(time_point now);
    void restart_pcapng();

    std::uint64_t exchanges_recorded() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hoplens::capture
