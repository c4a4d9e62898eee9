#pragma once
// Streaming Content-Encoding decoder for one message body (RFC 9110 8.4.1): gzip, x-gzip,
// deflate (zlib-wrapped or, as some servers send it, raw), br (when built with libbrotli).
// It keeps the first `cap` decoded bytes for the HAR and counts the rest, so a large download
// costs no memory. Unknown or stacked codings are kept as wire bytes, undecoded.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hoplens::capture {

class body_decoder {
  public:
    body_decoder(std::string_view content_encoding, std::size_t cap);
    ~body_decoder();
    body_decoder(body_decoder&&) noexcept;
    body_decoder& operator=(body_decoder&&) noexcept;

    void feed(std::string_view wire);

    // The first `cap` bytes of the body as devtools shows it (decoded when possible).
    const std::string& kept() const;
    // Total size of the body as kept() would have it without the cap.
    std::uint64_t size() const;
    // Decoding stopped counting (a decoded body past 256 MiB): size() is a lower bound.
    bool size_is_lower_bound() const;
    std::uint64_t wire_size() const;
    bool truncated() const;
    // The coding that was undone ("gzip", "deflate", "br"), or "" for none.
    const std::string& decoded_coding() const;
    // Why decoding was given up ("" if it was not): kept() then holds wire bytes.
    const std::string& problem() const;

  private:
    struct state;
    std::unique_ptr<state> s_;
};

} // namespace hoplens::capture
