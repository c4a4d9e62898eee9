#pragma once
// The background thread that keeps the RSA leaf key pool full, so that RSA key generation
// (~100 ms each) never runs on an event-loop thread.

#include "certs/certs.hpp"

#include <memory>
#include <thread>

namespace hoplens::proxy {

class leaf_key_pool_filler {
public:
    // Starts the thread. It generates keys of `type` while the pool has room, and stops
    // (leaving the pool as it is) if key generation fails: the cache then mints EC leaves.
    leaf_key_pool_filler(std::shared_ptr<certs::leaf_key_pool> pool, certs::key_type type);
    // Stops the thread; may wait for one key generation in progress to finish.
    ~leaf_key_pool_filler();
    leaf_key_pool_filler(const leaf_key_pool_filler&) = delete;
    leaf_key_pool_filler& operator=(const leaf_key_pool_filler&) = delete;

private:
    std::jthread thread_;
};

} // namespace hoplens::proxy
