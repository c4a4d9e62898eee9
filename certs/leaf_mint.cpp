// Minting a leaf certificate for its host names, signed by the CA.
#include "certs/openssl_util.hpp"

#include <array>

namespace hoplens::certs {

namespace {

using detail::openssl_error;

constexpr std::size_t max_common_name = 64; // RFC 5280 ub-common-name

// CN is kept for old clients that still read it; a name too long for a CN leaves the
// subject empty, and then RFC 5280 4.2.1.6 wants the SAN critical.
bool set_subject(X509* cert, const host_name& name) {
    if (name.text.size() > max_common_name) {
        return true;
    }
    return X509_NAME_add_entry_by_NID(X509_get_subject_name(cert), NID_commonName, MBSTRING_ASC,
                                      reinterpret_cast<const unsigned char*>(name.text.data()),
                                      static_cast<int>(name.text.size()), -1, 0) == 1;
}

bool add_general_name(GENERAL_NAMES* names, const host_name& name) {
    GENERAL_NAME* entry = GENERAL_NAME_new();
    ASN1_STRING* value = name.kind == name_kind::ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    bool ok = entry != nullptr && value != nullptr;
    if (ok) {
        ok = name.kind == name_kind::ip
                 ? ASN1_STRING_set(value, name.ip.data(), static_cast<int>(name.ip.size())) == 1
                 : ASN1_STRING_set(value, name.text.data(), static_cast<int>(name.text.size())) == 1;
        GENERAL_NAME_set0_value(entry, name.kind == name_kind::ip ? GEN_IPADD : GEN_DNS, value);
        value = nullptr;
        ok = ok && sk_GENERAL_NAME_push(names, entry) > 0;
        if (ok) {
            entry = nullptr;
        }
    }
    ASN1_STRING_free(value);
    GENERAL_NAME_free(entry);
    return ok;
}

bool add_subject_alt_name(X509* cert, std::span<const host_name> names) {
    GENERAL_NAMES* general_names = GENERAL_NAMES_new();
    bool ok = general_names != nullptr;
    for (const host_name& name : names) {
        ok = ok && add_general_name(general_names, name);
    }
    // Critical when the subject is empty (see set_subject).
    const int critical = names.front().text.size() > max_common_name ? 1 : 0;
    ok = ok && X509_add1_ext_i2d(cert, NID_subject_alt_name, general_names, critical,
                                 X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(general_names);
    return ok;
}

bool add_server_auth(X509* cert) {
    EXTENDED_KEY_USAGE* usage = sk_ASN1_OBJECT_new_null();
    const bool ok = usage != nullptr && sk_ASN1_OBJECT_push(usage, OBJ_nid2obj(NID_server_auth)) > 0 &&
                    X509_add1_ext_i2d(cert, NID_ext_key_usage, usage, 0, X509V3_ADD_DEFAULT) == 1;
    sk_ASN1_OBJECT_pop_free(usage, ASN1_OBJECT_free);
    return ok;
}

bool set_validity(X509* cert, X509* issuer, time_point now) {
    std::time_t start = std::chrono::system_clock::to_time_t(now - leaf_backdate);
    std::time_t end = std::chrono::system_clock::to_time_t(now + max_leaf_validity);
    if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &start) == nullptr) {
        return false;
    }
    // Never past the CA's end: a verifier rejects a chain whose CA expired first anyway,
    // and a leaf outliving its CA only confuses whoever inspects it.
    const ASN1_TIME* ca_end = X509_get0_notAfter(issuer);
    if (ASN1_TIME_cmp_time_t(ca_end, end) < 0) {
        return X509_set1_notAfter(cert, ca_end) == 1;
    }
    return X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &end) != nullptr;
}

} // namespace

result<x509_ptr> mint_leaf(const ca& issuer, std::span<const host_name> names, EVP_PKEY* leaf_key,
                           time_point now, std::span<const std::uint8_t, serial_bytes> serial) {
    if (names.empty()) {
        return error{errc::invalid_name, "a certificate needs a name"};
    }
    const host_name& name = names.front();
    if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(issuer.cert.get()),
                             std::chrono::system_clock::to_time_t(now)) <= 0) {
        return error{errc::ca_expired, "the CA certificate has expired"};
    }
    x509_ptr leaf(X509_new());
    X509* cert = leaf.get();
    const ASN1_OCTET_STRING* ca_key_id = X509_get0_subject_key_id(issuer.cert.get());
    detail::asn1_octet_string_ptr computed_ca_key_id;
    if (ca_key_id == nullptr) { // a CA made elsewhere may lack an SKI
        computed_ca_key_id = detail::key_identifier(issuer.cert.get());
        ca_key_id = computed_ca_key_id.get();
    }
    const bool rsa = EVP_PKEY_get_base_id(leaf_key) == EVP_PKEY_RSA;
    const bool ok =
        cert != nullptr && ca_key_id != nullptr && X509_set_version(cert, X509_VERSION_3) == 1 &&
        detail::set_serial(cert, serial) &&
        X509_set_issuer_name(cert, X509_get_subject_name(issuer.cert.get())) == 1 &&
        set_subject(cert, name) && set_validity(cert, issuer.cert.get(), now) &&
        // Fast with the legacy keys generate_key makes: see key_gen.cpp.
        X509_set_pubkey(cert, leaf_key) == 1 &&
        // RSA key exchange (TLS 1.2 RSA suites) encrypts to the key: keyEncipherment.
        (rsa ? detail::add_key_usage(cert, {0, 2}) : detail::add_key_usage(cert, {0})) &&
        add_server_auth(cert) && add_subject_alt_name(cert, names) &&
        detail::add_key_ids(cert, ca_key_id) && detail::sign(cert, issuer.key.get());
    if (!ok) {
        return openssl_error(errc::crypto, "minting a certificate for " + name.text);
    }
    return leaf;
}

} // namespace hoplens::certs
