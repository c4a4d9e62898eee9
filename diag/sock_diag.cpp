#include "diag/sock_diag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <string>

namespace hoplens::diag {
namespace {

template <typename T>
T load(std::span<const std::byte> bytes, std::size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

ip_endpoint endpoint_from(std::uint8_t family, const __be32 (&address)[4], __be16 port) {
    const auto host_port = ntohs(port);
    if (family == AF_INET) {
        std::uint8_t v4[4];
        std::memcpy(v4, address, 4);
        return ip_endpoint::from_v4(v4, host_port);
    }
    ip_endpoint e;
    std::memcpy(e.address.data(), address, 16);
    e.port = host_port;
    return e;
}

// Reads the attributes after the inet_diag_msg; only INET_DIAG_SKMEMINFO matters here.
void read_attributes(std::span<const std::byte> attrs, socket_record& record) {
    while (attrs.size() >= sizeof(nlattr)) {
        const auto attr = load<nlattr>(attrs, 0);
        if (attr.nla_len < sizeof(nlattr) || attr.nla_len > attrs.size()) {
            return; // malformed tail: keep what the fixed part said
        }
        const auto payload = attrs.subspan(NLA_HDRLEN, attr.nla_len - NLA_HDRLEN);
        if (attr.nla_type == INET_DIAG_SKMEMINFO &&
            payload.size() >= (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t)) {
            record.drops = load<std::uint32_t>(payload, SK_MEMINFO_DROPS * sizeof(std::uint32_t));
        }
        const auto step = static_cast<std::size_t>(NLA_ALIGN(attr.nla_len));
        if (step >= attrs.size()) {
            return;
        }
        attrs = attrs.subspan(step);
    }
}

} // namespace

std::vector<std::byte> build_sock_diag_request(std::uint8_t family, std::uint32_t states,
                                               bool want_meminfo, std::uint32_t sequence) {
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.header.nlmsg_seq = sequence;
    message.request.sdiag_family = family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = states;
    message.request.idiag_ext = want_meminfo ? 1u << (INET_DIAG_SKMEMINFO - 1) : 0;
    std::vector<std::byte> bytes(sizeof message);
    std::memcpy(bytes.data(), &message, sizeof message);
    return bytes;
}

std::variant<dump_status, parse_error> parse_sock_diag_messages(std::span<const std::byte> bytes,
                                                                std::vector<socket_record>& out) {
    while (!bytes.empty()) {
        if (bytes.size() < sizeof(nlmsghdr)) {
            return parse_error{"truncated netlink header"};
        }
        const auto header = load<nlmsghdr>(bytes, 0);
        if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > bytes.size()) {
            return parse_error{"bad netlink message length " + std::to_string(header.nlmsg_len)};
        }
        const auto payload = bytes.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
        if (header.nlmsg_type == NLMSG_DONE) {
            return dump_status::done;
        }
        if (header.nlmsg_type == NLMSG_ERROR) {
            const int error = payload.size() >= sizeof(int) ? -load<int>(payload, 0) : 0;
            return parse_error{"sock_diag error: " + std::string(std::strerror(error))};
        }
        if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            if (payload.size() < sizeof(inet_diag_msg)) {
                return parse_error{"truncated inet_diag_msg"};
            }
            const auto msg = load<inet_diag_msg>(payload, 0);
            socket_record record;
            record.family = msg.idiag_family;
            record.state = msg.idiag_state;
            record.local = endpoint_from(msg.idiag_family, msg.id.idiag_src, msg.id.idiag_sport);
            record.remote = endpoint_from(msg.idiag_family, msg.id.idiag_dst, msg.id.idiag_dport);
            record.inode = msg.idiag_inode;
            record.rqueue = msg.idiag_rqueue;
            record.wqueue = msg.idiag_wqueue;
            const auto attrs_at = NLMSG_ALIGN(sizeof(inet_diag_msg));
            if (payload.size() > attrs_at) {
                read_attributes(payload.subspan(attrs_at), record);
            }
            out.push_back(record);
        }
        const auto step = static_cast<std::size_t>(NLMSG_ALIGN(header.nlmsg_len));
        bytes = step >= bytes.size() ? std::span<const std::byte>{} : bytes.subspan(step);
    }
    return dump_status::need_more;
}

std::string_view tcp_state_name(std::uint8_t state) {
    // The order of include/net/tcp_states.h, spelled as iproute2's ss prints them.
    static constexpr std::array<std::string_view, 13> names = {
        "UNKNOWN",   "ESTAB",      "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
        "UNCONN",    "CLOSE-WAIT", "LAST-ACK", "LISTEN",   "CLOSING",    "SYN-RECV"};
    return state < names.size() ? names[state] : "UNKNOWN";
}

} // namespace hoplens::diag
