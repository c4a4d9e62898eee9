#include "capture/body_decoder.hpp"

#include "capture/text_codec.hpp"

#include <algorithm>
#include <array>

#include <zlib.h>
#ifdef HOPLENS_HAVE_BROTLI
#include <brotli/decode.h>
#endif

namespace hoplens::capture {

namespace {

// Decoding work is bounded: past this many decoded bytes the body is counted no further
// (a small compressed body can expand without limit).
constexpr std::uint64_t max_decoded_bytes = 256ull * 1024 * 1024;

enum class coding { identity, gzip, deflate, brotli, unsupported };

coding parse_coding(std::string_view v) {
    std::string s;
    for (char c : v) {
        if (c != ' ' && c != '\t') {
            s += ascii_lower(c);
        }
    }
    if (s.empty() || s == "identity") {
        return coding::identity;
    }
    if (s == "gzip" || s == "x-gzip") {
        return coding::gzip;
    }
    if (s == "deflate") {
        return coding::deflate;
    }
#ifdef HOPLENS_HAVE_BROTLI
    if (s == "br") {
        return coding::brotli;
    }
#endif
    return coding::unsupported;
}

} // namespace

struct body_decoder::state {
    coding kind = coding::identity;
    std::size_t cap = 0;
    std::string kept;
    std::string wire_kept; // fallback when decoding fails
    std::uint64_t size = 0;
    std::uint64_t wire_size = 0;
    std::string coding_name;
    std::string problem;
    bool started = false;
    bool finished = false; // the compressed stream ended
    std::string pending;   // deflate: bytes held until the header can be recognised
    z_stream z{};
    bool z_live = false;
#ifdef HOPLENS_HAVE_BROTLI
    BrotliDecoderState* br = nullptr;
#endif

    ~state() {
        if (z_live) {
            inflateEnd(&z);
        }
#ifdef HOPLENS_HAVE_BROTLI
        if (br != nullptr) {
            BrotliDecoderDestroyInstance(br);
        }
#endif
    }

    void keep(std::string& into, const char* p, std::size_t n) const {
        const std::size_t room = cap > into.size() ? cap - into.size() : 0;
        into.append(p, std::min(room, n));
    }

    void out(const char* p, std::size_t n) {
        keep(kept, p, n);
        size += n;
    }

    void fail(std::string why) {
        problem = std::move(why);
        kept = wire_kept;
        size = wire_size;
        coding_name.clear();
        kind = coding::identity;
    }

    bool start_zlib(int window_bits) {
        if (inflateInit2(&z, window_bits) != Z_OK) {
            fail("zlib could not start");
            return false;
        }
        z_live = true;
        return true;
    }

    void inflate_some(std::string_view in) {
        std::array<char, 16384> buf{};
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        while ((z.avail_in > 0 || z.avail_out == 0) && !finished && size < max_decoded_bytes) {
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            const int rc = inflate(&z, Z_NO_FLUSH);
            out(buf.data(), buf.size() - z.avail_out);
            if (rc == Z_STREAM_END) {
                finished = true;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                fail(coding_name + " body does not decode");
                return;
            } else if (rc == Z_BUF_ERROR) {
                return;
            }
        }
    }

    // RFC 9110 says deflate is the zlib format (RFC 1950); some servers send raw RFC 1951.
    // A zlib header is two bytes whose big-endian value is a multiple of 31 with method 8.
    void feed_deflate(std::string_view in) {
        if (!z_live) {
            pending.append(in);
            if (pending.size() < 2) {
                return;
            }
            const auto b0 = std::uint8_t(pending[0]);
            const auto b1 = std::uint8_t(pending[1]);
            const bool zlib_header = (b0 & 0x0F) == 8 && ((b0 << 8) | b1) % 31 == 0;
            if (!start_zlib(zlib_header ? 15 : -15)) {
                return;
            }
            std::string held;
            held.swap(pending);
            inflate_some(held);
            return;
        }
        inflate_some(in);
    }

#ifdef HOPLENS_HAVE_BROTLI
    void feed_brotli(std::string_view in) {
        if (br == nullptr) {
            br = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
            if (br == nullptr) {
                fail("brotli could not start");
                return;
            }
        }
        auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
        std::size_t avail_in = in.size();
        std::array<std::uint8_t, 16384> buf{};
        while (!finished && size < max_decoded_bytes) {
            std::uint8_t* next_out = buf.data();
            std::size_t avail_out = buf.size();
            const auto rc = BrotliDecoderDecompressStream(br, &avail_in, &next_in, &avail_out,
                                                          &next_out, nullptr);
            out(reinterpret_cast<const char*>(buf.data()), buf.size() - avail_out);
            if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
                finished = true;
            } else if (rc == BROTLI_DECODER_RESULT_ERROR) {
                fail("br body does not decode");
                return;
            } else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
                return;
            }
        }
    }
#endif
};

body_decoder::body_decoder(std::string_view content_encoding, std::size_t cap)
    : s_(std::make_unique<state>()) {
    s_->cap = cap;
    s_->kind = parse_coding(content_encoding);
    switch (s_->kind) {
    case coding::gzip:
        s_->coding_name = "gzip";
        s_->start_zlib(15 + 16);
        break;
    case coding::deflate:
        s_->coding_name = "deflate";
        break;
    case coding::brotli:
        s_->coding_name = "br";
        break;
    case coding::unsupported:
        s_->problem = "content-encoding '" + std::string(content_encoding) + "' kept as sent";
        s_->kind = coding::identity;
        break;
    case coding::identity:
        break;
    }
}

body_decoder::~body_decoder() = default;
body_decoder::body_decoder(body_decoder&&) noexcept = default;
body_decoder& body_decoder::operator=(body_decoder&&) noexcept = default;

void body_decoder::feed(std::string_view wire) {
    state& s = *s_;
    s.wire_size += wire.size();
    if (s.kind == coding::identity) {
        s.out(wire.data(), wire.size());
        return;
    }
    s.keep(s.wire_kept, wire.data(), wire.size());
    if (s.finished || s.size >= max_decoded_bytes) {
        return;
    }
    switch (s.kind) {
    case coding::gzip:
        s.inflate_some(wire);
        break;
    case coding::deflate:
        s.feed_deflate(wire);
        break;
#ifdef HOPLENS_HAVE_BROTLI
    case coding::brotli:
        s.feed_brotli(wire);
        break;
#endif
    default:
        break;
    }
}

const std::string& body_decoder::kept() const {
    return s_->kept;
}
std::uint64_t body_decoder::size() const {
    return s_->size;
}
std::uint64_t body_decoder::wire_size() const {
    return s_->wire_size;
}
bool body_decoder::size_is_lower_bound() const {
    return s_->kind != coding::identity && !s_->finished && s_->size >= max_decoded_bytes;
}
bool body_decoder::truncated() const {
    return s_->size > s_->kept.size();
}
const std::string& body_decoder::decoded_coding() const {
    return s_->coding_name;
}
const std::string& body_decoder::problem() const {
    return s_->problem;
}

} // namespace hoplens::capture
