// The per-name TLS server-context cache: a bounded LRU with single-flight minting.
#include "certs/openssl_util.hpp"

#include <array>
#include <atomic>
#include <future>
#include <list>
#include <unordered_map>

namespace hoplens::certs {

result<ssl_ctx_ptr> make_server_context(const ca& issuer, X509* leaf, EVP_PKEY* leaf_key) {
    ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
    const bool ok = ctx && SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) == 1 &&
                    SSL_CTX_use_certificate(ctx.get(), leaf) == 1 &&
                    SSL_CTX_add1_chain_cert(ctx.get(), issuer.cert.get()) == 1 &&
                    SSL_CTX_use_PrivateKey(ctx.get(), leaf_key) == 1;
    if (!ok) {
        return detail::openssl_error(errc::crypto, "building a TLS server context");
    }
    // Idle connections then hold no 34 KiB of record buffers (../shared/PERF-NOTES.md).
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

using context_result = result<std::shared_ptr<SSL_CTX>>;

struct server_context_cache::impl {
    struct entry {
        std::shared_future<context_result> context;
        std::list<std::string>::iterator lru_position;
        std::uint64_t generation; // tells this mint from a later one for the same name
    };

    std::shared_ptr<const ca> issuer;
    cache_options options;
    std::atomic<std::uint64_t> minted{0};

    mutable std::mutex mutex;
    std::list<std::string> lru; // most recently used first
    std::unordered_map<std::string, entry> entries;
    std::uint64_t generations = 0;

    context_result mint(std::span<const host_name> names) {
        evp_pkey_ptr key = options.new_key();
        if (!key) {
            return error{errc::crypto, "no key for a new leaf certificate"};
        }
        std::array<std::uint8_t, serial_bytes> serial{};
        options.random(serial);
        auto cert = mint_leaf(*issuer, names, key.get(), options.clock(), serial);
        if (auto* e = std::get_if<error>(&cert)) {
            return std::move(*e);
        }
        auto ctx = make_server_context(*issuer, std::get<x509_ptr>(cert).get(), key.get());
        if (auto* e = std::get_if<error>(&ctx)) {
            return std::move(*e);
        }
        if (options.configure) {
            options.configure(std::get<ssl_ctx_ptr>(ctx).get());
        }
        ++minted;
        return std::shared_ptr<SSL_CTX>(std::get<ssl_ctx_ptr>(ctx).release(), SSL_CTX_free);
    }

    // Called with the mutex held.
    void evict_beyond_capacity() {
        while (entries.size() > options.capacity) {
            // Waiters on an evicted in-flight mint keep their own shared_future copies.
            entries.erase(lru.back());
            lru.pop_back();
        }
    }

    void forget_failed(const std::string& key, std::uint64_t generation) {
        const std::lock_guard lock(mutex);
        const auto it = entries.find(key);
        // Only our own entry: it may have been evicted and minted again meanwhile.
        if (it != entries.end() && it->second.generation == generation) {
            lru.erase(it->second.lru_position);
            entries.erase(it);
        }
    }
};

server_context_cache::server_context_cache(std::shared_ptr<const ca> issuer, cache_options options)
    : impl_(std::make_unique<impl>()) {
    impl_->issuer = std::move(issuer);
    impl_->options = std::move(options);
    impl_->options.capacity = std::max<std::size_t>(impl_->options.capacity, 1);
    if (!impl_->options.new_key) {
        impl_->options.new_key = make_leaf_key_source(key_type::ecdsa_p256, nullptr);
    }
}

server_context_cache::~server_context_cache() = default;

context_result server_context_cache::get(std::string_view requested, std::string_view also) {
    std::array<host_name, 2> names;
    std::size_t count = 0;
    for (const std::string_view n : {requested, also}) {
        if (count == 1 && n.empty()) {
            break;
        }
        auto parsed = parse_host_name(n);
        if (auto* e = std::get_if<error>(&parsed)) {
            return std::move(*e);
        }
        names[count++] = std::move(std::get<host_name>(parsed));
    }
    if (count == 2 && names[1].text == names[0].text) {
        count = 1;
    }
    // The canonical names, space-separated (no name has a space).
    const std::string key = count == 1 ? names[0].text : names[0].text + ' ' + names[1].text;
    std::promise<context_result> promise;
    std::shared_future<context_result> context;
    bool ours = false;
    std::uint64_t generation = 0;
    {
        const std::lock_guard lock(impl_->mutex);
        const auto it = impl_->entries.find(key);
        if (it != impl_->entries.end()) {
            impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.lru_position);
            context = it->second.context;
        } else {
            context = promise.get_future().share();
            impl_->lru.push_front(key);
            generation = ++impl_->generations;
            impl_->entries.emplace(key,
                                   impl::entry{context, impl_->lru.begin(), generation});
            impl_->evict_beyond_capacity();
            ours = true;
        }
    }
    if (!ours) {
        return context.get(); // a hit, or another caller's mint in flight
    }
    context_result minted = impl_->mint(std::span(names.data(), count));
    promise.set_value(minted);
    if (std::holds_alternative<error>(minted)) {
        impl_->forget_failed(key, generation);
    }
    return minted;
}

std::uint64_t server_context_cache::minted() const {
    return impl_->minted.load();
}

std::size_t server_context_cache::size() const {
    const std::lock_guard lock(impl_->mutex);
    return impl_->entries.size();
}

const ca& server_context_cache::issuer() const {
    return *impl_->issuer;
}

} // namespace hoplens::certs
