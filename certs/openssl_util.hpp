#pragma once
// Private helpers shared by certs/*.cpp: owning pointers for the OpenSSL types that stay
// inside this module, the OpenSSL error queue as a message, and certificate building blocks.

#include "certs/certs.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <string_view>

namespace hoplens::certs::detail {

using x509_name_ptr = std::unique_ptr<X509_NAME, openssl_deleter<X509_NAME_free>>;
using asn1_time_ptr = std::unique_ptr<ASN1_TIME, openssl_deleter<ASN1_TIME_free>>;
using asn1_octet_string_ptr =
    std::unique_ptr<ASN1_OCTET_STRING, openssl_deleter<ASN1_OCTET_STRING_free>>;
using evp_pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX_free>>;

// "<what>: <reasons from the OpenSSL error queue>"; empties the queue so that a stale error
// never shows up in a later message.
error openssl_error(errc code, std::string_view what);

// Positive serial from `bytes` (the top bit is cleared; a zero serial becomes 1).
bool set_serial(X509* cert, std::span<const std::uint8_t, serial_bytes> bytes);

// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING.
asn1_octet_string_ptr key_identifier(X509* cert);

// Extensions as typed values (no config-string parsing: it is slow and hides mistakes).
bool add_basic_constraints_ca(X509* cert);
// keyUsage bits: 0 digitalSignature, 2 keyEncipherment, 5 keyCertSign, 6 cRLSign.
bool add_key_usage(X509* cert, std::initializer_list<int> bits);
bool add_key_ids(X509* cert, const ASN1_OCTET_STRING* authority_key_id);

bool sign(X509* cert, EVP_PKEY* key);

} // namespace hoplens::certs::detail
