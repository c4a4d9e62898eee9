#include "capture/capture.hpp"

#include "capture/har_entry.hpp"
#include "capture/har_file.hpp"
#include "capture/http1_reassembler.hpp"
#include "capture/pcapng.hpp"
#include "capture/tcp_synth.hpp"

#include <optional>
#include <unordered_map>

namespace hoplens::capture {

namespace {

constexpr std::string_view page_id = "page_1";

// Initial sequence numbers only need to differ between conversations; derive them from the
// id (splitmix64) so that the same events always give the same file.
std::uint32_t isn_for(conn_id id, std::uint64_t salt) {
    std::uint64_t z = id * 2 + salt + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return std::uint32_t(z ^ (z >> 31));
}

} // namespace

struct recorder::impl {
    struct connection {
        connection_info info;
        std::unique_ptr<http1_reassembler> http;
        std::optional<tcp_conversation> tcp;
        time_point last_seen;
    };

    recorder_options options;
    har_file har;
    pcapng_buffer pcapng;
    std::unordered_map<conn_id, connection> connections;
    std::uint64_t exchanges = 0;

    explicit impl(recorder_options o)
        : options(std::move(o)), har(options.creator_version, std::string(page_id)) {
    }

    void start_pcapng() {
        pcapng.clear();
        pcapng.copied() = pcapng_file_header("hoplens " + options.creator_version);
    }

    void record_finished(connection& c) {
        for (const exchange& x : c.http->take_finished()) {
            write_har_entry(har.entry_buffer(), x, page_id);
            har.entry_done();
            ++exchanges;
        }
    }

    // The conversation starts at the first byte so that an upstream learnt from
    // upstream_attached (explicit mode) is the server side; the handshake keeps the time
    // the connection was accepted.
    tcp_conversation& conversation(connection& c) {
        if (!c.tcp) {
            const connection_info& i = c.info;
            c.tcp.emplace(i.client, i.upstream, isn_for(i.id, 1), isn_for(i.id, 2));
            const std::string comment = "hoplens connection " + std::to_string(i.id) + ": " +
                                        i.scheme + "://" + i.server_name;
            c.tcp->open(i.opened_at, pcapng, comment);
        }
        return *c.tcp;
    }
};

recorder::recorder(recorder_options options, time_point started)
    : impl_(std::make_unique<impl>(std::move(options))) {
    if (impl_->options.har) {
        restart_har(started);
    }
    if (impl_->options.pcapng) {
        impl_->start_pcapng();
    }
}

recorder::~recorder() = default;

void recorder::opened(const connection_info& info) {
    impl::connection c;
    c.info = info;
    c.last_seen = info.opened_at;
    if (impl_->options.har) {
        c.http = std::make_unique<http1_reassembler>(info, impl_->options.body_cap_bytes);
    }
    impl_->connections.insert_or_assign(info.id, std::move(c));
}

void recorder::upstream_attached(conn_id id, const endpoint& upstream, const connect_timings& t) {
    const auto it = impl_->connections.find(id);
    if (it == impl_->connections.end()) {
        return;
    }
    impl::connection& c = it->second;
    if (!c.tcp) {
        c.info.upstream = upstream; // a conversation keeps the server it started with
    }
    if (c.http) {
        c.http->attach(upstream, t);
    }
}

void recorder::chunk(conn_id id, direction dir, time_point at, summed_bytes chunk) {
    const std::span<const std::byte> bytes = chunk.bytes;
    const auto it = impl_->connections.find(id);
    if (it == impl_->connections.end() || bytes.empty()) {
        return;
    }
    impl::connection& c = it->second;
    c.last_seen = at;
    if (impl_->options.pcapng) {
        impl_->conversation(c).data(dir, at, chunk, impl_->pcapng);
    }
    if (c.http) {
        c.http->feed(dir, at, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
        impl_->record_finished(c);
    }
}

void recorder::lost(conn_id id, lost_bytes bytes) {
    const auto it = impl_->connections.find(id);
    if (it == impl_->connections.end()) {
        return;
    }
    impl::connection& c = it->second;
    if (impl_->options.pcapng && (bytes.client_to_server > 0 || bytes.server_to_client > 0)) {
        tcp_conversation& tcp = impl_->conversation(c); // opened now if the loss came first
        tcp.skip(direction::client_to_server, bytes.client_to_server);
        tcp.skip(direction::server_to_client, bytes.server_to_client);
    }
    if (c.http) {
        c.http->abandon(c.last_seen, "capture queue full: bytes of this connection were dropped");
        impl_->record_finished(c);
    }
}

void recorder::closed(conn_id id, time_point at, bool aborted) {
    const auto it = impl_->connections.find(id);
    if (it == impl_->connections.end()) {
        return;
    }
    impl::connection& c = it->second;
    if (c.http) {
        c.http->close(at, aborted);
        impl_->record_finished(c);
    }
    if (c.tcp) {
        c.tcp->close(at, impl_->pcapng);
    }
    impl_->connections.erase(it);
}

bool recorder::take_har_write(file_write& out) {
    return impl_->har.take(out);
}

void recorder::take_pcapng(pcapng_buffer& out) {
    out.clear();
    std::swap(out, impl_->pcapng);
}

void recorder::restart_har(time_point now) {
    if (impl_->options.har) {
        impl_->har.begin(now); // what was pending belonged to the file being replaced
    }
}

void recorder::restart_pcapng() {
    if (impl_->options.pcapng) {
        // Bytes not yet taken belong to the old file: the new one starts with its own header.
        impl_->start_pcapng();
    }
}

std::uint64_t recorder::exchanges_recorded() const {
    return impl_->exchanges;
}

} // namespace hoplens::capture
