// Fuzzes the capture recorder from the tap's side: HTTP/1 reassembly of both directions, the
// HAR writer and the pcapng writer, fed arbitrary bytes in arbitrary chunks and events. No
// crash, no read outside a buffer (ASan), and the HAR file is valid JSON after every write
// (the crash-safety promise of --har).
//
// Input: a sequence of records `op len bytes[len]`; op % 5 picks a client chunk, a server
// chunk, an upstream attach, lost events, or a close (which ends the input).
#include "capture/capture.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

using hoplens::fuzz::check;
using namespace hoplens::capture;

namespace {

time_point at_ms(std::int64_t ms) {
    return time_point{std::chrono::seconds{1714564800}} + std::chrono::milliseconds{ms};
}

void apply_har(recorder& r, std::string& file) {
    file_write w;
    if (!r.take_har_write(w)) {
        return;
    }
    check(w.offset <= file.size());
    if (w.offset + w.bytes.size() > file.size()) {
        file.resize(w.offset + w.bytes.size());
    }
    file.replace(w.offset, w.bytes.size(), w.bytes);
    boost::system::error_code ec;
    (void)boost::json::parse(file, ec);
    if (ec) {
        std::fprintf(stderr, "HAR is not valid JSON (%s):\n%s\n", ec.message().c_str(), file.c_str());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    recorder r(recorder_options{"fuzz", 256, true, true}, at_ms(0));
    std::string har;
    pcapng_buffer pcap;
    const connection_info info{1, {"127.0.0.1", 40001}, {"::1", 443}, "example.test", "https", at_ms(0)};
    r.opened(info);
    std::int64_t now = 0;
    std::size_t i = 0;
    bool closed = false;
    while (i + 2 <= size && !closed) {
        const std::uint8_t op = data[i] % 5;
        const std::size_t len = std::min<std::size_t>(data[i + 1], size - i - 2);
        const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + i + 2), len);
        i += 2 + len;
        now += 1;
        switch (op) {
        case 0:
            r.chunk(info.id, direction::client_to_server, at_ms(now), bytes);
            break;
        case 1:
            r.chunk(info.id, direction::server_to_client, at_ms(now), bytes);
            break;
        case 2:
            r.upstream_attached(info.id, {"127.0.0.2", 8443}, connect_timings{1, 2, 3, 4});
            break;
        case 3:
            r.lost(info.id);
            break;
        default:
            r.closed(info.id, at_ms(now), (len & 1) != 0);
            closed = true;
            break;
        }
        apply_har(r, har);
        r.take_pcapng(pcap); // the chunks' bytes outlive this buffer: `data` is the caller's
    }
    if (!closed) {
        r.closed(info.id, at_ms(now + 1), true);
        apply_har(r, har);
        r.take_pcapng(pcap);
    }
    return 0;
}
