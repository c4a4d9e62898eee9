#include "capture/body_decoder.hpp"

#include <doctest/doctest.h>

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
