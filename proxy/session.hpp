#pragma once
// One accepted client connection, from the allow-list check to its end, for every listener
// mode: explicit (CONNECT and absolute-form), sni, http, reverse.

#include "conf/conf.hpp"
#include "proxy/net.hpp"
#include "proxy/tunnel.hpp"
#include "proxy/upstream.hpp"

namespace hoplens::proxy {

struct services;

// One event loop thread and what belongs to it. Sessions accepted for a worker run only on
// its io_context, so the pool needs no lock.
struct worker {
    explicit worker(services& svc) : pool(svc) {
    }
    tunnel_registry tunnels; // outlives io: frames destroyed with io deregister from it
    net::io_context io{1};
    upstream_pool pool;
};

net::awaitable<void> serve_client(services& svc, worker& w, const conf::listen_spec& listener,
                                  tcp::socket socket);

} // namespace hoplens::proxy
