#include "certs/certs.hpp"

#include "proxy/leaf_key_pool_filler.hpp"
#include "tests/certs/test_util.hpp"

#include <thread>

using namespace hoplens::certs;
using namespace hoplens::certs::test;

TEST_CASE("pool: take never blocks and counts misses") {
    leaf_key_pool pool(2);
    CHECK(pool.take() == nullptr);
    CHECK(pool.misses() == 1);
    pool.add(make_key());
    CHECK(pool.size() == 1);
    CHECK(pool.take() != nullptr);
    CHECK(pool.size() == 0);
}

TEST_CASE("pool: the RSA key source uses pool keys, and EC when the pool is empty") {
    auto pool = std::make_shared<leaf_key_pool>(2);
    pool->add(make_key(key_type::rsa_2048));
    const leaf_key_source source = make_leaf_key_source(key_type::rsa_2048, pool);
    const evp_pkey_ptr first = source();
    REQUIRE(first);
    CHECK(EVP_PKEY_get_base_id(first.get()) == EVP_PKEY_RSA);
    const evp_pkey_ptr second = source(); // pool empty now: an EC key, no waiting
    REQUIRE(second);
    CHECK(EVP_PKEY_get_base_id(second.get()) == EVP_PKEY_EC);
    CHECK(pool->misses() == 1);
}

TEST_CASE("filler: fills the pool to capacity in the background and stops on destruction") {
    auto pool = std::make_shared<leaf_key_pool>(2);
    {
        const hoplens::proxy::leaf_key_pool_filler filler(pool, key_type::rsa_2048);
        // RSA-2048 takes ~100 ms a key; allow 30 s on a loaded machine.
        for (int i = 0; i < 300 && pool->size() < 2; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CHECK(pool->size() == 2);
        evp_pkey_ptr key = pool->take();
        REQUIRE(key);
        CHECK(EVP_PKEY_get_bits(key.get()) == 2048);
        for (int i = 0; i < 300 && pool->size() < 2; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CHECK(pool->size() == 2); // refilled after the take
    }
    CHECK(pool->size() == 2); // never beyond capacity; the thread is gone
}
