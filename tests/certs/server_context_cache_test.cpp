#include "certs/certs.hpp"

#include "tests/certs/test_util.hpp"

#include <openssl/x509v3.h>

#include <atomic>
#include <latch>
#include <thread>

using namespace hoplens::certs;
using namespace hoplens::certs::test;

namespace {

cache_options options_for_test(std::size_t capacity) {
    cache_options options;
    options.capacity = capacity;
    options.clock = [] { return fixed_now; };
    options.random = counter_random;
    return options;
}

X509* leaf_of(const std::shared_ptr<SSL_CTX>& ctx) {
    return SSL_CTX_get0_certificate(ctx.get());
}

} // namespace

TEST_CASE("handshake: a TLS 1.3 client trusting only the CA accepts the minted context") {
    for (const key_type ca_type : {key_type::ecdsa_p256, key_type::rsa_2048, key_type::rsa_3072}) {
        CAPTURE(to_string(ca_type));
        auto issuer = std::make_shared<const ca>(make_ca(ca_type));
        server_context_cache cache(issuer, options_for_test(8));
        for (const char* requested : {"www.example.com", "127.0.0.1", "[::1]"}) {
            CAPTURE(requested);
            const host_name name = must(parse_host_name(requested));
            const auto ctx = must(cache.get(requested));
            const handshake_result hs = handshake(ctx.get(), issuer->cert.get(), name);
            CHECK(hs.ok);
            CHECK(hs.verify_result == X509_V_OK);
            CHECK(hs.version == TLS1_3_VERSION);
        }
    }
}

TEST_CASE("handshake: fails against a different CA, and for a name the leaf does not carry") {
    auto issuer = std::make_shared<const ca>(make_ca());
    const ca stranger = make_ca();
    server_context_cache cache(issuer, options_for_test(8));
    const auto ctx = must(cache.get("www.example.com"));
    const host_name name = must(parse_host_name("www.example.com"));

    const handshake_result untrusted = handshake(ctx.get(), stranger.cert.get(), name);
    CHECK_FALSE(untrusted.ok);
    CHECK(untrusted.verify_result != X509_V_OK);

    const handshake_result wrong_name =
        handshake(ctx.get(), issuer->cert.get(), must(parse_host_name("other.example.com")));
    CHECK_FALSE(wrong_name.ok);
    CHECK(wrong_name.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);

    const auto ip_ctx = must(cache.get("10.1.2.3"));
    const handshake_result wrong_ip =
        handshake(ip_ctx.get(), issuer->cert.get(), must(parse_host_name("10.1.2.4")));
    CHECK_FALSE(wrong_ip.ok);
    CHECK(wrong_ip.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_CASE("a leaf with a second name: clients checking either name accept it, others do not") {
    auto issuer = std::make_shared<const ca>(make_ca());
    server_context_cache cache(issuer, options_for_test(8));
    const auto both = must(cache.get("origin.example", "127.0.0.1"));
    for (const char* name : {"origin.example", "127.0.0.1"}) {
        CAPTURE(name);
        const handshake_result hs =
            handshake(both.get(), issuer->cert.get(), must(parse_host_name(name)));
        CHECK(hs.ok);
        CHECK(hs.verify_result == X509_V_OK);
    }
    const handshake_result other =
        handshake(both.get(), issuer->cert.get(), must(parse_host_name("127.0.0.2")));
    CHECK_FALSE(other.ok);
    CHECK(other.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH);

    // The pair is a cache entry of its own, found again in either spelling of its names; the
    // single name is another; a second name equal to the first is no second name.
    CHECK(must(cache.get("ORIGIN.example.", "127.0.0.1")) == both);
    const auto single = must(cache.get("origin.example"));
    CHECK(single != both);
    CHECK(must(cache.get("origin.example", "origin.example")) == single);
    CHECK(cache.minted() == 2);
    CHECK(X509_check_ip_asc(leaf_of(single), "127.0.0.1", 0) != 1);

    // A bad second name is refused like a bad first one, and nothing is minted.
    const auto bad = cache.get("origin.example", "fe80::1%eth0");
    REQUIRE(std::holds_alternative<error>(bad));
    CHECK(std::get<error>(bad).code == errc::invalid_name);
    CHECK(cache.minted() == 2);
}

TEST_CASE("cache: contexts have TLS 1.2 minimum, released buffers, the CA in the chain, and configure ran") {
    auto issuer = std::make_shared<const ca>(make_ca());
    auto options = options_for_test(8);
    std::atomic<int> configured{0};
    options.configure = [&](SSL_CTX* ctx) {
        ++configured;
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    };
    server_context_cache cache(issuer, options);
    const auto ctx = must(cache.get("Example.COM"));
    CHECK(configured == 1);
    CHECK(SSL_CTX_get_session_cache_mode(ctx.get()) == SSL_SESS_CACHE_OFF);
    CHECK(SSL_CTX_get_min_proto_version(ctx.get()) == TLS1_2_VERSION);
    CHECK((SSL_CTX_get_mode(ctx.get()) & SSL_MODE_RELEASE_BUFFERS) != 0);
    STACK_OF(X509)* chain = nullptr;
    REQUIRE(SSL_CTX_get0_chain_certs(ctx.get(), &chain) == 1);
    REQUIRE(sk_X509_num(chain) == 1);
    CHECK(X509_cmp(sk_X509_value(chain, 0), issuer->cert.get()) == 0);
    // Its own key, never the CA's.
    X509* leaf = leaf_of(ctx);
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf), issuer->key.get()) != 1);
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf), SSL_CTX_get0_privatekey(ctx.get())) == 1);
    // The lookup is by canonical name.
    CHECK(must(cache.get("example.com.")) == ctx);
    CHECK(cache.minted() == 1);
}

TEST_CASE("cache: invalid names are refused and never minted") {
    auto issuer = std::make_shared<const ca>(make_ca());
    server_context_cache cache(issuer, options_for_test(8));
    for (const char* bad : {"", "evil/name", "*.example.com", "1.2.3.999"}) {
        CAPTURE(bad);
        const auto r = cache.get(bad);
        REQUIRE(std::holds_alternative<error>(r));
        CHECK(std::get<error>(r).code == errc::invalid_name);
    }
    CHECK(cache.minted() == 0);
    CHECK(cache.size() == 0);
}

TEST_CASE("cache: concurrent lookups of one new name mint it once") {
    auto issuer = std::make_shared<const ca>(make_ca());
    auto options = options_for_test(8);
    std::atomic<int> keys_made{0};
    options.new_key = [&] {
        ++keys_made;
        // Keep the mint in flight long enough for every thread to arrive.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return make_key();
    };
    server_context_cache cache(issuer, options);
    constexpr int threads = 8;
    std::latch start(threads);
    std::vector<std::shared_ptr<SSL_CTX>> seen(threads);
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            start.arrive_and_wait();
            auto r = cache.get("same.example.com");
            if (auto* ctx = std::get_if<std::shared_ptr<SSL_CTX>>(&r)) {
                seen[static_cast<std::size_t>(i)] = *ctx;
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    CHECK(cache.minted() == 1);
    CHECK(keys_made == 1);
    for (const auto& ctx : seen) {
        REQUIRE(ctx != nullptr);
        CHECK(ctx == seen.front());
    }
}

TEST_CASE("cache: bounded LRU evicts the least recently used name") {
    auto issuer = std::make_shared<const ca>(make_ca());
    server_context_cache cache(issuer, options_for_test(2));
    const auto a = must(cache.get("a.example"));
    must(cache.get("b.example"));
    CHECK(must(cache.get("a.example")) == a); // a is now the most recent
    must(cache.get("c.example"));             // evicts b
    CHECK(cache.size() == 2);
    CHECK(cache.minted() == 3);
    CHECK(must(cache.get("a.example")) == a);
    CHECK(cache.minted() == 3);
    must(cache.get("b.example")); // minted again
    CHECK(cache.minted() == 4);
    CHECK(cache.size() == 2);
}

TEST_CASE("cache: a failed mint is reported and not cached") {
    auto issuer = std::make_shared<const ca>(make_ca());
    auto options = options_for_test(4);
    std::atomic<int> calls{0};
    options.new_key = [&]() -> evp_pkey_ptr {
        return calls++ == 0 ? nullptr : make_key();
    };
    server_context_cache cache(issuer, options);
    const auto first = cache.get("retry.example");
    REQUIRE(std::holds_alternative<error>(first));
    CHECK(std::get<error>(first).code == errc::crypto);
    CHECK(cache.size() == 0);
    CHECK(std::holds_alternative<std::shared_ptr<SSL_CTX>>(cache.get("retry.example")));
    CHECK(cache.minted() == 1);
}

TEST_CASE("cache: an expired CA mints nothing") {
    auto issuer = std::make_shared<const ca>(make_ca());
    auto options = options_for_test(4);
    options.clock = [] { return fixed_now + ca_validity + std::chrono::days(1); };
    server_context_cache cache(issuer, options);
    const auto r = cache.get("late.example");
    REQUIRE(std::holds_alternative<error>(r));
    CHECK(std::get<error>(r).code == errc::ca_expired);
}
