// The I/O half of sock_diag.hpp: one netlink socket per dump, request out, replies in.
#include "diag/sock_diag.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace hoplens::diag {
namespace {

class netlink_socket {
public:
    netlink_socket() : fd_(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {}
    ~netlink_socket() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    netlink_socket(const netlink_socket&) = delete;
    netlink_socket& operator=(const netlink_socket&) = delete;
    int fd() const {
        return fd_;
    }

private:
    int fd_;
};

parse_error errno_error(const char* what) {
    return parse_error{std::string(what) + ": " + std::strerror(errno)};
}

// Appends one family's sockets to `out`. A dump of a large host arrives in many buffers; the
// loop ends at NLMSG_DONE, on an error, or when a recv waits longer than the timeout.
std::optional<parse_error> dump_family(std::uint8_t family, std::uint32_t states,
                                       bool want_meminfo, std::vector<socket_record>& out) {
    netlink_socket sock;
    if (sock.fd() < 0) {
        return errno_error("netlink socket");
    }
    const timeval timeout{2, 0}; // a dump is answered at once; this only bounds a broken kernel
    ::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const auto request = build_sock_diag_request(family, states, want_meminfo, 1);
    if (::sendto(sock.fd(), request.data(), request.size(), 0,
                 reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
        return errno_error("sock_diag sendto");
    }
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        const auto n = ::recv(sock.fd(), buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return errno_error("sock_diag recv");
        }
        const auto status =
            parse_sock_diag_messages(std::span(buffer.data(), static_cast<std::size_t>(n)), out);
        if (const auto* error = std::get_if<parse_error>(&status)) {
            return *error;
        }
        if (std::get<dump_status>(status) == dump_status::done) {
            return std::nullopt;
        }
    }
}

} // namespace

std::variant<std::vector<socket_record>, parse_error> read_tcp_sockets(std::uint32_t states,
                                                                       bool want_meminfo) {
    std::vector<socket_record> records;
    if (auto error = dump_family(AF_INET, states, want_meminfo, records)) {
        return *error;
    }
    // A kernel booted with ipv6.disable=1 answers the IPv6 dump with an error: no sockets.
    std::vector<socket_record> v6;
    if (!dump_family(AF_INET6, states, want_meminfo, v6)) {
        records.insert(records.end(), v6.begin(), v6.end());
    }
    return records;
}

} // namespace hoplens::diag
