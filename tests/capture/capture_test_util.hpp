#pragma once
// Helpers shared by the capture tests: byte spans from string literals, a fake clock, a file's
// bytes, and a HAR "file" in memory that applies the recorder's writes and parses the JSON
// after each one.

#include "capture/capture.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

namespace hoplens::capture::test {

inline std::span<const std::byte> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The whole file (empty if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// 2024-05-01T12:00:00Z plus `ms` milliseconds.
inline time_point at_ms(std::int64_t ms) {
    return time_point{std::chrono::seconds{1714564800}} + std::chrono::milliseconds{ms};
}

inline connection_info conn(conn_id id, std::string client = "127.0.0.1",
                            std::string server = "127.0.0.2", std::uint16_t port = 443) {
    return connection_info{id,
                           {std::move(client), std::uint16_t(40000 + id)},
                           {std::move(server), port},
                           "example.test",
                           "https",
                           at_ms(0)};
}

// The pcapng bytes produced since the last take, as the sink writes them.
inline std::string take_pcapng(recorder& r) {
    pcapng_buffer b;
    r.take_pcapng(b);
    std::string out;
    for (const auto piece : b.pieces()) {
        out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    }
    return out;
}

// The HAR file as the sink would have it on disk, checked to be valid JSON after each write.
struct har_disk {
    std::string file;

    void apply(recorder& r) {
        file_write w;
        if (r.take_har_write(w)) {
            REQUIRE(w.offset <= file.size());
            if (w.offset + w.bytes.size() > file.size()) {
                file.resize(w.offset + w.bytes.size());
            }
            file.replace(w.offset, w.bytes.size(), w.bytes);
            boost::system::error_code ec;
            (void)boost::json::parse(file, ec);
            REQUIRE_MESSAGE(!ec, "HAR is not JSON after a write: " << file);
        }
    }
    boost::json::array entries() const {
        return boost::json::parse(file).at("log").at("entries").as_array();
    }
};

} // namespace hoplens::capture::test
