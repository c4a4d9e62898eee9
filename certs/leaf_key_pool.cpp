// The pool of pre-generated RSA leaf keys, and where the cache gets each leaf's key.
#include "certs/certs.hpp"

#include <algorithm>

namespace hoplens::certs {

leaf_key_pool::leaf_key_pool(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

evp_pkey_ptr leaf_key_pool::take() {
    evp_pkey_ptr key;
    {
        const std::lock_guard lock(mutex_);
        if (keys_.empty()) {
            ++misses_;
            return nullptr;
        }
        key = std::move(keys_.front());
        keys_.pop_front();
    }
    room_.notify_all();
    return key;
}

void leaf_key_pool::add(evp_pkey_ptr key) {
    if (!key) {
        return;
    }
    const std::lock_guard lock(mutex_);
    keys_.push_back(std::move(key));
}

bool leaf_key_pool::wait_for_room(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    return room_.wait(lock, stop, [this] { return keys_.size() < capacity_; });
}

std::size_t leaf_key_pool::size() const {
    const std::lock_guard lock(mutex_);
    return keys_.size();
}

std::size_t leaf_key_pool::capacity() const {
    return capacity_;
}

std::uint64_t leaf_key_pool::misses() const {
    const std::lock_guard lock(mutex_);
    return misses_;
}

leaf_key_source make_leaf_key_source(key_type type, std::shared_ptr<leaf_key_pool> rsa_pool) {
    const auto fresh_ec = [] {
        auto key = generate_key(key_type::ecdsa_p256);
        return std::holds_alternative<evp_pkey_ptr>(key) ? std::move(std::get<evp_pkey_ptr>(key))
                                                         : nullptr;
    };
    if (type == key_type::ecdsa_p256 || !rsa_pool) {
        return fresh_ec;
    }
    return [pool = std::move(rsa_pool), fresh_ec] {
        // An empty pool means a burst of new names outran the filler; an EC leaf serves
        // every current client, while generating RSA here would stall the handshake ~100 ms.
        evp_pkey_ptr key = pool->take();
        return key ? std::move(key) : fresh_ec();
    };
}

} // namespace hoplens::certs
