// The CA: creating a self-signed one and loading (and checking) an existing one.
#include "certs/openssl_util.hpp"

#include <openssl/pem.h>

#include <array>

namespace hoplens::certs {

namespace {

using detail::openssl_error;

// RFC 5280 upper bound for a commonName (ub-common-name).
constexpr std::size_t max_common_name = 64;

detail::x509_name_ptr ca_subject(std::string_view host) {
    const std::string prefix = "hoplens CA on ";
    std::string common_name = prefix + std::string(host.empty() ? "unknown host" : host);
    common_name.resize(std::min(common_name.size(), max_common_name));
    detail::x509_name_ptr name(X509_NAME_new());
    const auto add = [&](int nid, const std::string& value) {
        return X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(value.data()),
                                          static_cast<int>(value.size()), -1, 0) == 1;
    };
    if (!name || !add(NID_organizationName, "hoplens") || !add(NID_commonName, common_name)) {
        return nullptr;
    }
    return name;
}

bool is_supported_key(EVP_PKEY* key) {
    return EVP_PKEY_is_a(key, "EC") == 1 || EVP_PKEY_is_a(key, "RSA") == 1;
}

} // namespace

result<ca> create_ca(key_type type, std::string_view host, time_point now,
                     const random_source& random) {
    auto key = generate_key(type);
    if (auto* e = std::get_if<error>(&key)) {
        return std::move(*e);
    }
    ca out{x509_ptr(X509_new()), std::move(std::get<evp_pkey_ptr>(key))};
    X509* cert = out.cert.get();
    std::array<std::uint8_t, serial_bytes> serial{};
    random(serial);
    std::time_t start = std::chrono::system_clock::to_time_t(now - leaf_backdate);
    std::time_t end = std::chrono::system_clock::to_time_t(now + ca_validity);
    const detail::x509_name_ptr subject = ca_subject(host);
    const bool ok = cert != nullptr && subject && X509_set_version(cert, X509_VERSION_3) == 1 &&
                    detail::set_serial(cert, serial) &&
                    X509_set_subject_name(cert, subject.get()) == 1 &&
                    X509_set_issuer_name(cert, subject.get()) == 1 &&
                    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &start) != nullptr &&
                    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &end) != nullptr &&
                    X509_set_pubkey(cert, out.key.get()) == 1 &&
                    detail::add_basic_constraints_ca(cert) &&
                    detail::add_key_usage(cert, {5, 6}) && detail::add_key_ids(cert, nullptr) &&
                    detail::sign(cert, out.key.get());
    if (!ok) {
        return openssl_error(errc::crypto, "creating the CA certificate");
    }
    return out;
}

result<ca> load_ca(std::string_view cert_pem, std::string_view key_pem) {
    ERR_clear_error();
    bio_ptr cert_bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    x509_ptr cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)
                           : nullptr);
    if (!cert) {
        return openssl_error(errc::corrupt_certificate, "not a valid PEM certificate");
    }
    bio_ptr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    // A null passphrase callback with an empty password: an encrypted key fails as corrupt
    // instead of prompting on the terminal.
    evp_pkey_ptr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr,
                                                       const_cast<char*>(""))
                             : nullptr);
    if (!key) {
        return openssl_error(errc::corrupt_key, "not a valid unencrypted PEM private key");
    }
    if (!is_supported_key(key.get())) {
        return error{errc::corrupt_key, "unsupported key type (EC or RSA expected)"};
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        return error{errc::key_mismatch, "the private key does not match the certificate"};
    }
    // X509_check_ca also accepts v1 self-signed certificates; a CA we sign with must say so
    // explicitly (basicConstraints CA:TRUE) and, if it has keyUsage, allow keyCertSign.
    const std::uint32_t flags = X509_get_extension_flags(cert.get());
    const bool may_sign = (flags & EXFLAG_CA) != 0 &&
                          ((flags & EXFLAG_KUSAGE) == 0 ||
                           (X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) != 0);
    if (!may_sign) {
        return error{errc::not_a_ca,
                     "the certificate is not a CA (needs basicConstraints CA:TRUE and keyCertSign)"};
    }
    return ca{std::move(cert), std::move(key)};
}

} // namespace hoplens::certs
