// Fuzzes the ClientHello peek: no crash, no read outside the buffer (ASan), and the verdict
// is consistent as bytes arrive, which is how proxy/ calls it.
#include "proxy/client_hello.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using hoplens::fuzz::check;
using namespace hoplens::proxy;

namespace {

bool same(const peek_result& a, const peek_result& b) {
    if (a.index() != b.index()) {
        return false;
    }
    if (const auto* x = std::get_if<not_tls>(&a)) {
        return x->reason == std::get<not_tls>(b).reason;
    }
    if (const auto* x = std::get_if<client_hello_info>(&a)) {
        const auto& y = std::get<client_hello_info>(b);
        return x->server_name == y.server_name && x->alpn == y.alpn &&
               x->record_version == y.record_version && x->client_version == y.client_version;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> all(reinterpret_cast<const std::byte*>(data), size);
    const auto whole = peek_client_hello(all);
    if (const auto* info = std::get_if<client_hello_info>(&whole)) {
        if (info->server_name) {
            check(!info->server_name->empty() && info->server_name->size() <= 253);
            for (const char c : *info->server_name) {
                check(c > ' ' && c < 0x7f && c != '/' && !(c >= 'A' && c <= 'Z'));
            }
        }
    }
    // A full peek buffer always gets a verdict.
    check(size < max_client_hello_wire_bytes || !std::holds_alternative<need_more>(whole));
    // Fewer bytes: either "need more" or the same verdict (a verdict never changes as bytes
    // arrive).
    const auto prefix = peek_client_hello(all.first(size / 2));
    check(std::holds_alternative<need_more>(prefix) || same(prefix, whole));
    return 0;
}
