#include "diag/sock_diag.hpp"

#include "test_data.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <map>

using namespace hoplens::diag;

namespace {
const socket_record* find(const std::vector<socket_record>& v, std::uint8_t state,
                          std::uint16_t local_port) {
    const auto it = std::find_if(v.begin(), v.end(), [&](const socket_record& s) {
        return s.state == state && s.local.port == local_port;
    });
    return it == v.end() ? nullptr : &*it;
}
} // namespace

TEST_CASE("recorded dump: LISTEN queue and limit are what ss -lnt printed") {
    const auto sockets = test::recorded_sockets();
    // ss.txt: LISTEN 4 3 127.0.0.1:7001 and LISTEN 0 8 [::1]:7002
    const auto* full = find(sockets, tcp_state_listen, 7001);
    REQUIRE(full);
    CHECK(full->rqueue == 4);
    CHECK(full->wqueue == 3);
    CHECK(to_string(full->local) == "127.0.0.1:7001");
    CHECK(full->inode != 0);
    REQUIRE(full->drops);
    CHECK(*full->drops == 4); // == TcpExtListenDrops: the only listener that dropped
    const auto* v6 = find(sockets, tcp_state_listen, 7002);
    REQUIRE(v6);
    CHECK(v6->rqueue == 0);
    CHECK(v6->wqueue == 8);
    CHECK(to_string(v6->local) == "[::1]:7002");
}

TEST_CASE("recorded dump: state counts are what ss -ant printed") {
    std::map<std::string, int> counts;
    for (const auto& s : test::recorded_sockets()) {
        ++counts[std::string(tcp_state_name(s.state))];
    }
    const std::map<std::string, int> expected = {
        {"LISTEN", 2}, {"ESTAB", 8}, {"SYN-SENT", 2}, {"TIME-WAIT", 3}};
    CHECK(counts == expected);
}

TEST_CASE("request bytes: one SOCK_DIAG_BY_FAMILY dump request") {
    const auto bytes = build_sock_diag_request(AF_INET6, 1u << tcp_state_listen, true, 7);
    REQUIRE(bytes.size() == 72); // nlmsghdr 16 + inet_diag_req_v2 56
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof header);
    CHECK(header.nlmsg_len == 72);
    CHECK(header.nlmsg_type == 20);
    CHECK(header.nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(header.nlmsg_seq == 7);
    CHECK(std::to_integer<int>(bytes[16]) == AF_INET6);
    CHECK(std::to_integer<int>(bytes[17]) == IPPROTO_TCP);
    CHECK(std::to_integer<int>(bytes[18]) == 1 << 6); // bit INET_DIAG_SKMEMINFO (7) - 1
}

TEST_CASE("truncated and hostile netlink buffers are errors, not crashes") {
    const auto bytes = test::read_data("sock_diag_inet.bin");
    const auto all = std::as_bytes(std::span(bytes.data(), bytes.size()));
    for (std::size_t n = 1; n < all.size(); ++n) {
        std::vector<socket_record> out;
        const auto status = parse_sock_diag_messages(all.first(n), out);
        // A cut on a message boundary is "need more"; anywhere else, an error.
        if (const auto* s = std::get_if<dump_status>(&status)) {
            CHECK(*s == dump_status::need_more);
        }
    }
    std::vector<std::byte> error(20);
    const nlmsghdr header{20, NLMSG_ERROR, 0, 1, 0};
    std::memcpy(error.data(), &header, sizeof header);
    const int minus_eperm = -1;
    std::memcpy(error.data() + 16, &minus_eperm, 4);
    std::vector<socket_record> out;
    const auto status = parse_sock_diag_messages(error, out);
    REQUIRE(std::holds_alternative<parse_error>(status));
    CHECK(std::get<parse_error>(status).what.find("not permitted") != std::string::npos);
}

TEST_CASE("the live reader sees a listener of ours with its backlog") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 2) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const auto sockets = read_tcp_sockets(1u << tcp_state_listen, true);
    ::close(fd);
    REQUIRE(std::holds_alternative<std::vector<socket_record>>(sockets));
    const auto* mine =
        find(std::get<std::vector<socket_record>>(sockets), tcp_state_listen, ntohs(addr.sin_port));
    REQUIRE(mine);
    CHECK(mine->wqueue == 2);
    CHECK(mine->drops == 0u);
}
