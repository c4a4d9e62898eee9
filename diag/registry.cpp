#include "diag/diag.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

namespace hoplens::diag {
namespace {

std::optional<ip_endpoint> endpoint_from_sockaddr(const sockaddr* address, std::size_t length) {
    if (address == nullptr) {
        return std::nullopt;
    }
    if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
        sockaddr_in v4;
        std::memcpy(&v4, address, sizeof v4);
        std::uint8_t bytes[4];
        std::memcpy(bytes, &v4.sin_addr, 4);
        return ip_endpoint::from_v4(bytes, ntohs(v4.sin_port));
    }
    if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
        sockaddr_in6 v6;
        std::memcpy(&v6, address, sizeof v6);
        ip_endpoint e;
        std::memcpy(e.address.data(), &v6.sin6_addr, 16);
        e.port = ntohs(v6.sin6_port);
        return e;
    }
    return std::nullopt;
}

} // namespace

void listener_registry::add(const listener_info& info) {
    registered_listener entry{info, 0, std::nullopt};
    struct stat st{};
    if (::fstat(info.native_fd, &st) == 0) {
        entry.inode = static_cast<std::uint32_t>(st.st_ino);
    }
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(info.native_fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
        entry.local = endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&local), length);
    }
    add_for_test(entry);
}

void listener_registry::add_for_test(const registered_listener& listener) {
    const std::lock_guard lock(mutex_);
    listeners_.push_back(listener);
}

std::vector<registered_listener> listener_registry::list() const {
    const std::lock_guard lock(mutex_);
    return listeners_;
}

upstream_registry::upstream_registry(std::size_t max_entries) : max_entries_(max_entries) {}

void upstream_registry::note_upstream(const sockaddr* address, std::size_t length) {
    if (const auto endpoint = endpoint_from_sockaddr(address, length)) {
        note_upstream(*endpoint);
    }
}

void upstream_registry::note_upstream(const ip_endpoint& endpoint) {
    const std::lock_guard lock(mutex_);
    if (endpoints_.size() >= max_entries_ && !endpoints_.contains(endpoint)) {
        ++dropped_;
        return;
    }
    endpoints_.insert(endpoint);
}

std::set<ip_endpoint> upstream_registry::list() const {
    const std::lock_guard lock(mutex_);
    return endpoints_;
}

std::uint64_t upstream_registry::dropped_entries() const {
    const std::lock_guard lock(mutex_);
    return dropped_;
}

} // namespace hoplens::diag
