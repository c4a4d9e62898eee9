#include "certs/certs.hpp"

#include "tests/certs/test_util.hpp"

#include <openssl/x509v3.h>

#include <set>

using namespace hoplens::certs;
using namespace hoplens::certs::test;

TEST_CASE("leaves pass openssl verify -x509_strict -purpose sslserver with the name checked") {
    for (const key_type ca_type : {key_type::ecdsa_p256, key_type::rsa_2048}) {
        const ca issuer = make_ca(ca_type);
        for (const key_type leaf_type : {key_type::ecdsa_p256, key_type::rsa_2048}) {
            for (const char* name : {"example.com", "a.b.example.org", "127.0.0.1", "::1",
                                     "2001:db8::42"}) {
                CAPTURE(to_string(ca_type));
                CAPTURE(to_string(leaf_type));
                CAPTURE(name);
                const host_name parsed = must(parse_host_name(name));
                const evp_pkey_ptr key = make_key(leaf_type);
                const x509_ptr leaf = make_leaf(issuer, name, key.get());
                const command_result verified = openssl_verify(issuer, leaf.get(), parsed);
                CAPTURE(verified.output);
                CHECK(verified.status == 0);
                CHECK(verified.output.find(": OK") != std::string::npos);
            }
        }
    }
}

TEST_CASE("openssl verify rejects a leaf for another name, another CA, or after expiry") {
    const ca issuer = make_ca();
    const ca other = make_ca();
    const evp_pkey_ptr key = make_key();
    const x509_ptr leaf = make_leaf(issuer, "example.com", key.get());
    CHECK(openssl_verify(issuer, leaf.get(), must(parse_host_name("example.org"))).status != 0);
    CHECK(openssl_verify(other, leaf.get(), must(parse_host_name("example.com"))).status != 0);
    CHECK(openssl_verify(issuer, leaf.get(), must(parse_host_name("example.com")),
                         std::chrono::days(398)).status != 0);
    const x509_ptr ip_leaf = make_leaf(issuer, "10.0.0.1", key.get());
    CHECK(openssl_verify(issuer, ip_leaf.get(), must(parse_host_name("10.0.0.2"))).status != 0);
}

TEST_CASE("a leaf names exactly what was asked for, with the extensions DESIGN.md lists") {
    const ca issuer = make_ca();
    const evp_pkey_ptr key = make_key();
    const x509_ptr leaf = make_leaf(issuer, "API.example.com", key.get());
    X509* cert = leaf.get();
    CHECK((X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) != 0);
    CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_SERVER);
    CHECK(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
    CHECK((X509_get_extension_flags(cert) & EXFLAG_CA) == 0);
    REQUIRE(X509_get0_subject_key_id(cert) != nullptr);
    REQUIRE(X509_get0_authority_key_id(cert) != nullptr);
    CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
                                X509_get0_subject_key_id(issuer.cert.get())) == 0);
    CHECK(X509_check_host(cert, "api.example.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(cert, "other.example.com", 0, 0, nullptr) != 1);
    CHECK(X509_check_private_key(cert, key.get()) == 1);
    CHECK(X509_check_private_key(cert, issuer.key.get()) != 1);
    CHECK(X509_verify(cert, issuer.key.get()) == 1);
    // An RSA leaf may also be used for RSA key exchange.
    const evp_pkey_ptr rsa = make_key(key_type::rsa_2048);
    const x509_ptr rsa_leaf = make_leaf(issuer, "example.com", rsa.get());
    CHECK(X509_get_key_usage(rsa_leaf.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
}

TEST_CASE("validity: backdated an hour, at most 397 days, never past the CA") {
    const ca issuer = make_ca();
    const evp_pkey_ptr key = make_key();
    const auto later = fixed_now + std::chrono::days(100);
    const x509_ptr leaf = make_leaf(issuer, "example.com", key.get(), later);
    CHECK(ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf.get()), to_time_t(later - leaf_backdate)) == 0);
    CHECK(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf.get()), to_time_t(later + max_leaf_validity)) == 0);

    // Ten days before the CA ends, the leaf ends with the CA.
    const auto near_end = fixed_now + ca_validity - std::chrono::days(10);
    const x509_ptr clamped = make_leaf(issuer, "example.com", key.get(), near_end);
    CHECK(ASN1_TIME_compare(X509_get0_notAfter(clamped.get()), X509_get0_notAfter(issuer.cert.get())) == 0);

    // After the CA's end nothing is minted.
    std::array<std::uint8_t, serial_bytes> serial{};
    counter_random(serial);
    const auto expired = mint_leaf(issuer, must(parse_host_name("example.com")), key.get(),
                                   fixed_now + ca_validity + std::chrono::hours(1), serial);
    REQUIRE(std::holds_alternative<error>(expired));
    CHECK(std::get<error>(expired).code == errc::ca_expired);
}

TEST_CASE("serials: from the random source, positive, distinct") {
    const ca issuer = make_ca();
    const evp_pkey_ptr key = make_key();
    const host_name name = must(parse_host_name("example.com"));
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) {
        std::array<std::uint8_t, serial_bytes> serial{};
        openssl_random_bytes(serial);
        if (i == 0) {
            serial.fill(0xff); // the sign bit set: must still come out positive
        }
        const x509_ptr leaf = must(mint_leaf(issuer, name, key.get(), fixed_now, serial));
        const ASN1_INTEGER* value = X509_get0_serialNumber(leaf.get());
        BIGNUM* bn = ASN1_INTEGER_to_BN(value, nullptr);
        REQUIRE(bn != nullptr);
        CHECK(BN_is_negative(bn) == 0);
        CHECK(BN_is_zero(bn) == 0);
        CHECK(BN_num_bits(bn) <= 127);
        char* hex = BN_bn2hex(bn);
        seen.insert(hex);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    CHECK(seen.size() == 20);
}

TEST_CASE("a name too long for a CN leaves the subject empty and the SAN critical") {
    const ca issuer = make_ca();
    const evp_pkey_ptr key = make_key();
    const std::string name = std::string(60, 'a') + ".example.com";
    const x509_ptr leaf = make_leaf(issuer, name, key.get());
    CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf.get())) == 0);
    const int index = X509_get_ext_by_NID(leaf.get(), NID_subject_alt_name, -1);
    REQUIRE(index >= 0);
    CHECK(X509_EXTENSION_get_critical(X509_get_ext(leaf.get(), index)) == 1);
    const command_result verified = openssl_verify(issuer, leaf.get(), must(parse_host_name(name)));
    CAPTURE(verified.output);
    CHECK(verified.status == 0);
}
