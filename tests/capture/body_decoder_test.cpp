#include "capture/body_decoder.hpp"

#include <doctest/doctest.h>

#include <array>
#include <zlib.h>

#ifdef HOPLENS_TEST_BROTLI
#include <brotli/encode.h>
#endif

namespace hoplens::capture {
namespace {

TEST_CASE("identity bodies are kept up to the cap and counted beyond it") {
    body_decoder b("", 4);
    b.feed("hello");
    b.feed(" world");
    CHECK(b.kept() == "hell");
    CHECK(b.size() == 11);
    CHECK(b.wire_size() == 11);
    CHECK(b.truncated());
    CHECK(b.decoded_coding().empty());
}

TEST_CASE("a body that does not decode is kept as sent, with the reason") {
    body_decoder b("gzip", 100);
    b.feed("not gzip at all");
    CHECK(b.kept() == "not gzip at all");
    CHECK(b.size() == 15);
    CHECK(b.decoded_coding().empty());
    CHECK(b.problem() == "gzip body does not decode");
}

TEST_CASE("unknown codings are kept as sent") {
    body_decoder b("zstd", 100);
    b.feed("abc");
    CHECK(b.kept() == "abc");
    CHECK(b.problem() == "content-encoding 'zstd' kept as sent");
}

TEST_CASE("a decoded body past 256 MiB is counted as at least that much") {
    // 300 MiB of zeros, deflated as it streams: a few hundred KiB on the wire.
    z_stream z{};
    REQUIRE(deflateInit(&z, 1) == Z_OK);
    const std::string zeros(1024 * 1024, '\0');
    std::string wire;
    std::array<char, 65536> out{};
    for (int i = 0; i < 300; ++i) {
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
        z.avail_in = uInt(zeros.size());
        const int flush = i == 299 ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = reinterpret_cast<Bytef*>(out.data());
            z.avail_out = uInt(out.size());
            deflate(&z, flush);
            wire.append(out.data(), out.size() - z.avail_out);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    body_decoder big("deflate", 16);
    big.feed(wire);
    CHECK(big.size_is_lower_bound());
    CHECK(big.size() >= 256ull * 1024 * 1024);
    CHECK(big.size() < 300ull * 1024 * 1024);
    CHECK(big.kept() == std::string(16, '\0'));

    body_decoder small("deflate", 16);
    small.feed(wire.substr(0, 1000));
    CHECK_FALSE(small.size_is_lower_bound());
}

#ifdef HOPLENS_TEST_BROTLI
TEST_CASE("br bodies are decoded, fed one byte at a time") {
    const std::string text = "brotli brotli brotli brotli brotli brotli brotli";
    std::string enc(BrotliEncoderMaxCompressedSize(text.size()), '\0');
    std::size_t n = enc.size();
    REQUIRE(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, text.size(),
                                  reinterpret_cast<const std::uint8_t*>(text.data()), &n,
                                  reinterpret_cast<std::uint8_t*>(enc.data())) == BROTLI_TRUE);
    enc.resize(n);
    body_decoder b("br", 1000);
    for (char c : enc) {
        b.feed(std::string_view(&c, 1));
    }
    CHECK(b.kept() == text);
    CHECK(b.decoded_coding() == "br");
    CHECK(b.wire_size() == enc.size());
    CHECK(b.problem().empty());
}
#endif

} // namespace
} // namespace hoplens::capture
