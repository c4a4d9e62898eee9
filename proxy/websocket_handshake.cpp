#include "proxy/websocket_handshake.hpp"

#include "proxy/field_names.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <optional>
#include <string_view>

namespace hoplens::proxy {

namespace {

// A comma-separated field value lists `token` (case-insensitive).
bool lists(std::string_view value, std::string_view token) {
    bool found = false;
    for_each_list_element(value, [&](std::string_view element) {
        found = found || iequals(element, token);
    });
    return found;
}

// Some field named `name` lists `token`.
bool any_lists(const message_head& head, std::string_view name, std::string_view token) {
    bool found = false;
    for (std::size_t i = 0; i < head.field_count(); ++i) {
        const auto f = head.field_at(i);
        found = found || (iequals(f.name, name) && lists(f.value, token));
    }
    return found;
}

// The value of the one field named `name`, trimmed; nullopt when there is none or more than
// one (RFC 6455 §11.3: the Sec-WebSocket fields checked here appear once).
std::optional<std::string_view> sole_value(const message_head& head, std::string_view name) {
    std::optional<std::string_view> value;
    for (std::size_t i = 0; i < head.field_count(); ++i) {
        const auto f = head.field_at(i);
        if (iequals(f.name, name)) {
            if (value) {
                return std::nullopt;
            }
            value = trim_ows(f.value);
        }
    }
    return value;
}

// base64(SHA-1(key + the RFC's GUID)) (RFC 6455 §4.2.2 item 5.4).
std::string accept_for(std::string_view key) {
    const std::string keyed = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(keyed.data()), keyed.size(), digest.data());
    std::array<unsigned char, 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1> text{};
    const int n = EVP_EncodeBlock(text.data(), digest.data(), SHA_DIGEST_LENGTH);
    return {reinterpret_cast<const char*>(text.data()), std::size_t(n)};
}

} // namespace

bool asks_for_websocket(const http1_parser& request) {
    const message_head& head = request.head();
    const auto length = head.find("content-length");
    const bool bodyless =
        head.find("transfer-encoding").empty() && (length.empty() || length == "0");
    if (!request.upgrade() || !bodyless || head.method() != "GET" || head.version_major != 1 ||
        head.version_minor != 1) {
        return false;
    }
    const auto key = sole_value(head, "sec-websocket-key");
    return any_lists(head, "upgrade", "websocket") && key && !key->empty();
}

std::string websocket_refusal(const message_head& request, const message_head& response) {
    const auto upgrade = sole_value(response, "upgrade");
    if (!upgrade || !iequals(*upgrade, "websocket")) {
        return "its 101 does not switch to websocket";
    }
    if (!any_lists(response, "connection", "upgrade")) {
        return "its 101 does not say Connection: upgrade";
    }
    const auto key = sole_value(request, "sec-websocket-key");
    const auto accept = sole_value(response, "sec-websocket-accept");
    if (!key || !accept || *accept != accept_for(*key)) {
        return "its 101 does not accept the client's Sec-WebSocket-Key";
    }
    return {};
}

} // namespace hoplens::proxy
