// Key generation through OpenSSL's legacy EC_KEY/RSA objects, on purpose.
//
// OpenSSL 3.0 has two kinds of EVP_PKEY. A provider-native one (what EVP_PKEY_Q_keygen
// returns) goes through the encoder framework in X509_set_pubkey: ~130-340 us to look up an
// encoder, more than a whole mint should cost (../shared/PERF-NOTES.md). A legacy one,
// backed by an EC_KEY or RSA, is encoded by its ASN.1 method (i2o of the point, ~9 us) and
// stays attached to the certificate, which libssl needs (SSL_CTX_use_certificate reads it
// back with X509_get0_pubkey; X509_PUBKEY_set0_param would leave it unset). Generating the
// EC key on a shared, pre-built P-256 group is also ~3x faster than EVP_PKEY_Q_keygen.
// These functions are deprecated in 3.0 but present in every 3.x; this file is the one place
// that uses them.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "certs/openssl_util.hpp"

#include <openssl/ec.h>
#include <openssl/rsa.h>

namespace hoplens::certs {

namespace {

// Built once, then only read (EC_KEY_set_group copies it): safe to share between threads.
const EC_GROUP* p256_group() {
    static const EC_GROUP* const group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    return group;
}

evp_pkey_ptr generate_ec_p256() {
    EC_KEY* ec = EC_KEY_new();
    evp_pkey_ptr key(EVP_PKEY_new());
    if (ec == nullptr || !key || p256_group() == nullptr || EC_KEY_set_group(ec, p256_group()) != 1 ||
        EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(key.get(), ec) != 1) {
        EC_KEY_free(ec);
        return nullptr;
    }
    return key;
}

evp_pkey_ptr generate_rsa(int bits) {
    RSA* rsa = RSA_new();
    BIGNUM* exponent = BN_new();
    evp_pkey_ptr key(EVP_PKEY_new());
    const bool ok = rsa != nullptr && exponent != nullptr && key &&
                    BN_set_word(exponent, RSA_F4) == 1 &&
                    RSA_generate_key_ex(rsa, bits, exponent, nullptr) == 1 &&
                    EVP_PKEY_assign_RSA(key.get(), rsa) == 1;
    BN_free(exponent);
    if (!ok) {
        RSA_free(rsa);
        return nullptr;
    }
    return key;
}

} // namespace

result<evp_pkey_ptr> generate_key(key_type type) {
    evp_pkey_ptr key;
    switch (type) {
    case key_type::ecdsa_p256:
        key = generate_ec_p256();
        break;
    case key_type::rsa_2048:
        key = generate_rsa(2048);
        break;
    case key_type::rsa_3072:
        key = generate_rsa(3072);
        break;
    }
    if (!key) {
        return detail::openssl_error(errc::crypto,
                                     "generating a " + std::string(to_string(type)) + " key");
    }
    return key;
}

} // namespace hoplens::certs
