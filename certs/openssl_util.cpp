// Module-wide helpers: errors, keys, serialization and the certificate building blocks that
// both the CA and the leaves use.
#include "certs/openssl_util.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cassert>

namespace hoplens::certs {

std::string_view to_string(key_type type) {
    switch (type) {
    case key_type::ecdsa_p256:
        return "ecdsa-p256";
    case key_type::rsa_2048:
        return "rsa-2048";
    case key_type::rsa_3072:
        return "rsa-3072";
    }
    return "unknown";
}

void openssl_random_bytes(std::span<std::uint8_t> out) {
    // RAND_bytes fails only when the DRBG cannot be seeded, which leaves nothing safe to do.
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        std::abort();
    }
}

namespace {

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

} // namespace

std::string cert_to_pem(X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
        return {};
    }
    return bio_contents(bio.get());
}

std::string key_to_pem(EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return {};
    }
    return bio_contents(bio.get());
}

std::vector<std::uint8_t> cert_to_der(X509* cert) {
    const int size = i2d_X509(cert, nullptr);
    if (size <= 0) {
        return {};
    }
    std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
    unsigned char* out = der.data();
    i2d_X509(cert, &out);
    return der;
}

namespace detail {

error openssl_error(errc code, std::string_view what) {
    std::string message(what);
    const char* separator = ": ";
    while (const unsigned long e = ERR_get_error()) {
        std::array<char, 256> text{};
        ERR_error_string_n(e, text.data(), text.size());
        message += separator;
        message += text.data();
        separator = "; ";
    }
    return error{code, std::move(message)};
}

bool set_serial(X509* cert, std::span<const std::uint8_t, serial_bytes> bytes) {
    std::array<std::uint8_t, serial_bytes> value{};
    std::copy(bytes.begin(), bytes.end(), value.begin());
    value[0] &= 0x7f; // RFC 5280 4.1.2.2: positive
    if (std::all_of(value.begin(), value.end(), [](std::uint8_t b) { return b == 0; })) {
        value.back() = 1; // ... and non-zero
    }
    BIGNUM* bn = BN_bin2bn(value.data(), static_cast<int>(value.size()), nullptr);
    if (bn == nullptr) {
        return false;
    }
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return serial != nullptr;
}

asn1_octet_string_ptr key_identifier(X509* cert) {
    const unsigned char* bits = nullptr;
    int bits_size = 0;
    if (X509_PUBKEY_get0_param(nullptr, &bits, &bits_size, nullptr,
                               X509_get_X509_PUBKEY(cert)) != 1) {
        return nullptr;
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_size = 0;
    if (EVP_Digest(bits, static_cast<std::size_t>(bits_size), digest.data(), &digest_size,
                   EVP_sha1(), nullptr) != 1) {
        return nullptr;
    }
    asn1_octet_string_ptr id(ASN1_OCTET_STRING_new());
    if (!id || ASN1_OCTET_STRING_set(id.get(), digest.data(), static_cast<int>(digest_size)) != 1) {
        return nullptr;
    }
    return id;
}

bool add_basic_constraints_ca(X509* cert) {
    BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
    if (bc == nullptr) {
        return false;
    }
    bc->ca = 0xff;
    // pathlen:0: this CA signs leaves only, so a leaked leaf key can never act as a CA.
    bc->pathlen = ASN1_INTEGER_new();
    const bool ok = bc->pathlen != nullptr && ASN1_INTEGER_set(bc->pathlen, 0) == 1 &&
                    X509_add1_ext_i2d(cert, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
    BASIC_CONSTRAINTS_free(bc);
    return ok;
}

bool add_key_usage(X509* cert, std::initializer_list<int> bits) {
    ASN1_BIT_STRING* usage = ASN1_BIT_STRING_new();
    if (usage == nullptr) {
        return false;
    }
    bool ok = true;
    for (const int bit : bits) {
        ok = ok && ASN1_BIT_STRING_set_bit(usage, bit, 1) == 1;
    }
    ok = ok && X509_add1_ext_i2d(cert, NID_key_usage, usage, 1, X509V3_ADD_DEFAULT) == 1;
    ASN1_BIT_STRING_free(usage);
    return ok;
}

bool add_key_ids(X509* cert, const ASN1_OCTET_STRING* authority_key_id) {
    const asn1_octet_string_ptr subject_key_id = key_identifier(cert);
    if (!subject_key_id ||
        X509_add1_ext_i2d(cert, NID_subject_key_identifier, subject_key_id.get(), 0,
                      X509V3_ADD_DEFAULT) != 1) {
        return false;
    }
    // A self-signed certificate names its own key (the subject key id just computed).
    const ASN1_OCTET_STRING* keyid =
        authority_key_id != nullptr ? authority_key_id : subject_key_id.get();
    AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
    if (akid == nullptr) {
        return false;
    }
    akid->keyid = ASN1_OCTET_STRING_dup(keyid);
    const bool ok = akid->keyid != nullptr &&
                    X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0,
                                  X509V3_ADD_DEFAULT) == 1;
    AUTHORITY_KEYID_free(akid);
    return ok;
}

bool sign(X509* cert, EVP_PKEY* key) {
    return X509_sign(cert, key, EVP_sha256()) > 0;
}

} // namespace detail
} // namespace hoplens::certs
