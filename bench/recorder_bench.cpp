// recorder_bench: what capture/ costs per exchange on the capture thread, without the proxy:
// CPU microseconds per keep-alive exchange (a browser-like GET and a 91-byte response, as
// bench/capture_bench.py's keep-alive load) and per 10 MiB response, with HAR and pcapng on,
// including taking the output (not writing it). Run it under perf to see where the capture
// thread's time goes with full symbols.
//
// Usage: recorder_bench [seconds per figure, default 3] [only this figure's first word]
#include "capture/capture.hpp"

#include <time.h>

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

using namespace hoplens::capture;

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

const std::string request =
    "GET /files/small HTTP/1.1\r\nHost: origin.test:8443\r\nUser-Agent: Mozilla/5.0 (X11; "
    "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Encoding: identity\r\nAccept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=abc123; theme=dark\r\n\r\n";

// A small body is text (nginx's `return 200 "..."`); a large one is random bytes, as
// tests/integration/lib/origin.py serves /files/10m, and goes into the HAR as base64.
std::string body_bytes(std::size_t size) {
    if (size < 1024) {
        return std::string(size, 'x');
    }
    std::string out(size, '\0');
    std::uint64_t x = 0x9E3779B97F4A7C15; // xorshift64: fixed, fast, incompressible enough
    for (char& c : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = char(x);
    }
    return out;
}

std::string response(std::size_t body) {
    return "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: " +
           std::to_string(body) +
           "\r\nLast-Modified: Wed, 25 Nov 2026 11:00:00 GMT\r\nConnection: keep-alive\r\n"
           "ETag: \"6565f0a0-5b\"\r\nAccept-Ranges: bytes\r\n\r\n" +
           body_bytes(body);
}

// Exchanges on one kept-alive connection for `seconds`; the response arrives in pieces of
// at most 16 KiB (TLS records). Returns CPU microseconds per exchange.
double run(const char* what, std::size_t body, double seconds) {
    recorder rec({"bench", 1024 * 1024, true, true}, {});
    const std::string resp = response(body);
    const auto t0 = std::chrono::system_clock::now();
    connection_info info{1, {"127.0.0.1", 40000}, {"127.0.0.1", 8443}, "origin.test", "https", t0};
    rec.opened(info);
    file_write har;
    pcapng_buffer pcapng;
    const double start = cpu_seconds();
    std::uint64_t n = 0;
    std::uint64_t out_bytes = 0;
    while (cpu_seconds() - start < seconds) {
        for (int i = 0; i < 64; ++i, ++n) {
            const auto at = t0 + std::chrono::microseconds(n * 50);
            rec.chunk(1, direction::client_to_server, at, bytes_of(request));
            const auto r = bytes_of(resp);
            for (std::size_t off = 0; off < r.size(); off += 16384) {
                rec.chunk(1, direction::server_to_client, at, r.subspan(off, std::min<std::size_t>(16384, r.size() - off)));
            }
        }
        if (rec.take_har_write(har)) {
            out_bytes += har.bytes.size();
        }
        rec.take_pcapng(pcapng);
        for (const auto p : pcapng.pieces()) {
            out_bytes += p.size();
        }
        pcapng.clear();
    }
    const double cpu = cpu_seconds() - start;
    std::printf("%-22s %9.2f us per exchange  %8.0f exchanges per CPU s  %6.0f output bytes each\n",
                what, cpu * 1e6 / double(n), double(n) / cpu, double(out_bytes) / double(n));
    return cpu * 1e6 / double(n);
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    const std::string only = argc > 2 ? argv[2] : "";
    if (only.empty() || only == "keep-alive") {
        run("keep-alive 91 B", 91, seconds);
    }
    if (only.empty() || only == "bulk") {
        run("bulk 10 MiB", 10 * 1024 * 1024, seconds);
    }
}
