#include "certs/certs.hpp"

#include "tests/certs/test_util.hpp"

#include <openssl/x509v3.h>

using namespace hoplens::certs;
using namespace hoplens::certs::test;

namespace {

std::string text_of(X509* cert) {
    const temp_dir dir;
    write_file(dir.path() / "c.pem", cert_to_pem(cert));
    return run("openssl x509 -noout -text -in " + (dir.path() / "c.pem").string()).output;
}

} // namespace

TEST_CASE("create_ca: a CA with the extensions, subject and validity DESIGN.md names") {
    const ca issuer = make_ca();
    X509* cert = issuer.cert.get();
    const std::string text = text_of(cert);
    CAPTURE(text);
    CHECK(text.find("X509v3 Basic Constraints: critical") != std::string::npos);
    CHECK(text.find("CA:TRUE") != std::string::npos);
    CHECK(text.find("X509v3 Key Usage: critical") != std::string::npos);
    CHECK(text.find("Certificate Sign, CRL Sign") != std::string::npos);
    CHECK(text.find("X509v3 Subject Key Identifier") != std::string::npos);
    CHECK(text.find("O = hoplens, CN = hoplens CA on test-host") != std::string::npos);
    CHECK(text.find("ASN1 OID: prime256v1") != std::string::npos);

    // Valid from an hour before `now` for ten years.
    CHECK(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), to_time_t(fixed_now - leaf_backdate)) == 0);
    CHECK(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), to_time_t(fixed_now + ca_validity)) == 0);
    // The self-signature verifies, and the key is the certificate's.
    CHECK(X509_verify(cert, issuer.key.get()) == 1);
    CHECK(X509_check_private_key(cert, issuer.key.get()) == 1);
    CHECK(X509_check_ca(cert) == 1);
}

TEST_CASE("create_ca: the RSA key types") {
    for (const auto& type_and_bits : {std::pair{key_type::rsa_2048, 2048}, std::pair{key_type::rsa_3072, 3072}}) {
        const key_type type = type_and_bits.first; // not a binding: CAPTURE's lambda takes it
        const int bits = type_and_bits.second;
        CAPTURE(to_string(type));
        const ca issuer = make_ca(type);
        CHECK(EVP_PKEY_get_base_id(issuer.key.get()) == EVP_PKEY_RSA);
        CHECK(EVP_PKEY_get_bits(issuer.key.get()) == bits);
        CHECK(X509_verify(issuer.cert.get(), issuer.key.get()) == 1);
        // The round trip through PEM keeps it a usable CA.
        const ca loaded = must(load_ca(cert_to_pem(issuer.cert.get()), key_to_pem(issuer.key.get())));
        CHECK(X509_cmp(loaded.cert.get(), issuer.cert.get()) == 0);
    }
}

TEST_CASE("create_ca: a long host name still fits the 64-byte CN") {
    const ca issuer = must(create_ca(key_type::ecdsa_p256, std::string(100, 'h'), fixed_now, counter_random));
    std::array<char, 128> cn{};
    const int size = X509_NAME_get_text_by_NID(X509_get_subject_name(issuer.cert.get()),
                                               NID_commonName, cn.data(), cn.size());
    CHECK(size == 64);
}

TEST_CASE("load_ca: PEM round trip") {
    const ca issuer = make_ca();
    const ca loaded = must(load_ca(cert_to_pem(issuer.cert.get()), key_to_pem(issuer.key.get())));
    CHECK(X509_cmp(loaded.cert.get(), issuer.cert.get()) == 0);
    CHECK(EVP_PKEY_eq(loaded.key.get(), issuer.key.get()) == 1);
    // DER is the same certificate.
    const auto der = cert_to_der(issuer.cert.get());
    const unsigned char* p = der.data();
    x509_ptr from_der(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(from_der);
    CHECK(X509_cmp(from_der.get(), issuer.cert.get()) == 0);
}

TEST_CASE("load_ca: each bad input has its own error") {
    const ca issuer = make_ca();
    const ca other = make_ca();
    const std::string cert = cert_to_pem(issuer.cert.get());
    const std::string key = key_to_pem(issuer.key.get());
    const auto code_of = [](const result<ca>& r) {
        REQUIRE(std::holds_alternative<error>(r));
        const error& e = std::get<error>(r);
        CHECK(e.message.find('\n') == std::string::npos);
        return e.code;
    };
    CHECK(code_of(load_ca("", key)) == errc::corrupt_certificate);
    CHECK(code_of(load_ca("garbage", key)) == errc::corrupt_certificate);
    std::string truncated = cert.substr(0, cert.size() / 2) + "\n-----END CERTIFICATE-----\n";
    CHECK(code_of(load_ca(truncated, key)) == errc::corrupt_certificate);
    CHECK(code_of(load_ca(cert, "")) == errc::corrupt_key);
    CHECK(code_of(load_ca(cert, cert)) == errc::corrupt_key);
    CHECK(code_of(load_ca(cert, key_to_pem(other.key.get()))) == errc::key_mismatch);

    // A leaf (CA:FALSE implied) with its own key is no CA.
    const evp_pkey_ptr leaf_key = make_key();
    const x509_ptr leaf = make_leaf(issuer, "example.com", leaf_key.get());
    CHECK(code_of(load_ca(cert_to_pem(leaf.get()), key_to_pem(leaf_key.get()))) == errc::not_a_ca);
}
