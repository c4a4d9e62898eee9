// A stand-in for the proxy in the netns test (netns_test.sh): the same diag::server and
// registries the proxy uses, around listeners whose behaviour the test controls.
//   diag_probe serve BACKLOG_STUCK BACKLOG_CLOSER UPSTREAM_PORT N_UPSTREAM
//     stuck listener (never accepts), closer listener (accepts, closes first), N connections
//     to 127.0.0.1:UPSTREAM_PORT closed by us (TIME_WAIT toward a noted upstream), a diag
//     server on 127.0.0.1:0. Prints "stuck=P closer=P diag=P" and runs until stdin closes.
//   diag_probe host [--json] [PORT...]   = `hoplens diag`
#include "diag/diag.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

using namespace hoplens;

namespace {

int listener(int backlog, std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("listener");
        std::exit(1);
    }
    port = ntohs(addr.sin_port);
    return fd;
}

void connect_and_close(std::uint16_t port, int count, diag::upstream_registry& upstreams) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            upstreams.note_upstream(reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        }
        ::close(fd); // we close first: the TIME_WAIT is ours
    }
}

int serve(int argc, char** argv) {
    if (argc != 6) {
        std::cerr << "usage: diag_probe serve BACKLOG_STUCK BACKLOG_CLOSER UPSTREAM_PORT N\n";
        return 2;
    }
    diag::proxy_counters counters;
    diag::listener_registry listeners;
    diag::upstream_registry upstreams;
    std::uint16_t stuck_port = 0;
    std::uint16_t closer_port = 0;
    const int stuck_backlog = std::atoi(argv[2]);
    const int closer_backlog = std::atoi(argv[3]);
    const int stuck = listener(stuck_backlog, stuck_port);
    const int closer = listener(closer_backlog, closer_port);
    listeners.add({"explicit", "127.0.0.1:" + std::to_string(stuck_port), stuck_backlog, stuck});
    listeners.add({"sni", "127.0.0.1:" + std::to_string(closer_port), closer_backlog, closer});
    diag::server_options options;
    options.bind = {"127.0.0.1", 0};
    options.ca_pem = "probe-ca\n";
    diag::server server(options, counters, listeners, upstreams);
    server.start();
    std::thread([closer, &counters] {
        for (;;) {
            const int fd = ::accept(closer, nullptr, nullptr);
            if (fd < 0) {
                return;
            }
            diag::add(counters.connections_total);
            ::close(fd);
        }
    }).detach();
    connect_and_close(static_cast<std::uint16_t>(std::atoi(argv[4])), std::atoi(argv[5]),
                      upstreams);
    std::cout << "stuck=" << stuck_port << " closer=" << closer_port
              << " diag=" << server.port() << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    server.stop();
    std::_Exit(0); // the accept thread is blocked in accept(): no orderly join needed
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "serve") {
        return serve(argc, argv);
    }
    if (mode == "host") {
        std::vector<std::uint16_t> ports;
        bool json = false;
        for (int i = 2; i < argc; ++i) {
            if (std::strcmp(argv[i], "--json") == 0) {
                json = true;
            } else {
                ports.push_back(static_cast<std::uint16_t>(std::atoi(argv[i])));
            }
        }
        return diag::print_host_report(ports, json, std::chrono::milliseconds(200), std::cout,
                                       std::cerr);
    }
    std::cerr << "usage: diag_probe serve ... | diag_probe host [--json] [PORT...]\n";
    return 2;
}
