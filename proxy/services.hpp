#pragma once
// What every session needs, built once in run_proxy() and passed by reference (no globals).

#include "conf/conf.hpp"
#include "diag/counters.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
struct sockaddr;

namespace hoplens::proxy {

class upstream_tls;
class tap;
class access_log;

struct services {
    const conf::run_options& options;
    diag::proxy_counters& counters;
    upstream_tls& upstream;
    tap& capture;
    access_log& access;
    // The server context for a name (DNS or IP literal) and, when `also` is not empty, a
    // second one the leaf carries too; minted on first use; nullptr and a reason when a name
    // cannot be certified. Thread-safe.
    std::function<std::shared_ptr<SSL_CTX>(const std::string& name, const std::string& also,
                                           std::string& error)>
        leaf_for;
    // Remembers an upstream endpoint so that diag can tell our outbound TIME_WAIT apart.
    std::function<void(const sockaddr* address, std::size_t length)> note_upstream;
    // Where our own listeners are bound ("address", port), filled before the first accept:
    // an upstream connection to one of them would loop through the proxy forever.
    std::vector<std::pair<std::string, std::uint16_t>> own_listeners;
    std::atomic<std::uint64_t> next_connection_id{1};
    // Exchanges between a complete request head and the end of its response: what a
    // graceful stop waits for.
    std::atomic<std::uint64_t> exchanges_in_flight{0};
};

} // namespace hoplens::proxy
