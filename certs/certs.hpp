#pragma once
// certs/: the CA, per-host leaf certificates and the TLS server-context cache.
//
// Pure: OpenSSL only. No files, sockets, clocks or threads; the time and the random bytes of
// serial numbers are parameters (or injected functions), so that tests control them. Key
// generation uses OpenSSL's own DRBG, which is the one source of randomness inside.
// Errors are values (`result<T>`); no exception crosses this API.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hoplens::certs {

template <auto free_fn>
struct openssl_deleter {
    template <class T>
    void operator()(T* p) const noexcept {
        free_fn(p);
    }
};
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_deleter<SSL_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;

enum class key_type { ecdsa_p256, rsa_2048, rsa_3072 };
std::string_view to_string(key_type type); // "ecdsa-p256", "rsa-2048", "rsa-3072"

enum class errc {
    invalid_name,        // a host name we refuse to put in a certificate
    corrupt_certificate, // not a parsable PEM certificate
    corrupt_key,         // not a parsable PEM private key
    key_mismatch,        // the key is not the certificate's
    not_a_ca,            // the certificate may not sign certificates
    ca_expired,          // the CA's notAfter has passed
    crypto,              // OpenSSL failed (out of memory, provider missing...)
};
struct error {
    errc code;
    std::string message; // one line, without a trailing newline
};
template <class T>
using result = std::variant<T, error>;

using time_point = std::chrono::system_clock::time_point;
// Fills the span with unpredictable bytes. Must be safe to call from several threads.
using random_source = std::function<void(std::span<std::uint8_t>)>;
// The production random_source (RAND_bytes). proxy/ passes it in; tests pass their own.
void openssl_random_bytes(std::span<std::uint8_t> out);

// A fresh private key. RSA takes ~100 ms: never call it for RSA on an event-loop thread.
result<evp_pkey_ptr> generate_key(key_type type);

// ---- CA ----------------------------------------------------------------------------------

struct ca {
    x509_ptr cert;
    evp_pkey_ptr key;
};

inline constexpr auto ca_validity = std::chrono::days(3650);

// A self-signed CA: subject CN="hoplens CA on <host>", O=hoplens; basicConstraints CA:TRUE
// pathlen:0 and keyUsage keyCertSign+cRLSign, both critical; SKI and AKI; valid from an hour
// before `now` for 10 years; a random positive 128-bit serial from `random`.
result<ca> create_ca(key_type type, std::string_view host, time_point now,
                     const random_source& random);

// Parses a CA from its PEM certificate and PEM private key. Rejects, each with its own errc:
// an unparsable certificate or key, a key that is not the certificate's, a certificate
// without basicConstraints CA:TRUE (or whose keyUsage lacks keyCertSign), a key that is
// neither EC nor RSA.
result<ca> load_ca(std::string_view cert_pem, std::string_view key_pem);

std::string cert_to_pem(X509* cert);
std::string key_to_pem(EVP_PKEY* key); // unencrypted PKCS#8
std::vector<std::uint8_t> cert_to_der(X509* cert);

// ---- host names --------------------------------------------------------------------------

enum class name_kind { dns, ip };
struct host_name {
    name_kind kind = name_kind::dns;
    std::string text;                 // canonical: lower-case DNS name, or RFC 5952 IP text
    std::vector<std::uint8_t> ip;     // 4 or 16 network-order bytes when kind == ip
};

// Accepts a DNS name (LDH labels plus '_', one trailing dot dropped, lower-cased) or an IP
// literal (dotted-quad IPv4; IPv6 with or without brackets). Rejects the rest: see
// host_name.cpp for why each shape is refused.
result<host_name> parse_host_name(std::string_view name);

// ---- leaves ------------------------------------------------------------------------------

inline constexpr auto leaf_backdate = std::chrono::hours(1);
inline constexpr auto max_leaf_validity = std::chrono::days(397);
inline constexpr std::size_t serial_bytes = 16;

// Signs a leaf for `names` with the CA: CN = the first name, SAN = all of them (DNS or IP),
// EKU serverAuth, keyUsage digitalSignature (+keyEncipherment for RSA keys), serial from
// `serial` (made positive), AKI/SKI, notBefore = now - 1h, notAfter = min(now + 397 days,
// the CA's notAfter). `leaf_key` is the leaf's own key (never pass the CA's). Fails if the CA
// has expired or `names` is empty.
result<x509_ptr> mint_leaf(const ca& issuer, std::span<const host_name> names, EVP_PKEY* leaf_key,
                           time_point now, std::span<const std::uint8_t, serial_bytes> serial);
inline result<x509_ptr> mint_leaf(const ca& issuer, const host_name& name, EVP_PKEY* leaf_key,
                                  time_point now,
                                  std::span<const std::uint8_t, serial_bytes> serial) {
    return mint_leaf(issuer, std::span(&name, 1), leaf_key, now, serial);
}

// A TLS server context presenting `leaf` (with the CA cert in the chain, so that clients
// that trust the CA can build the path): TLS 1.2 minimum, SSL_MODE_RELEASE_BUFFERS.
result<ssl_ctx_ptr> make_server_context(const ca& issuer, X509* leaf, EVP_PKEY* leaf_key);

// ---- RSA key pool ------------------------------------------------------------------------

// Pre-generated keys for RSA leaves, so that no event-loop thread ever generates one.
// Thread Safety: every member may be called from any thread.
class leaf_key_pool {
public:
    explicit leaf_key_pool(std::size_t capacity);

    evp_pkey_ptr take(); // never blocks; null when empty (counted in misses())
    void add(evp_pkey_ptr key); // accepted even when full: the filler waits before generating
    // Blocks until the pool has room (true) or `stop` is requested (false).
    bool wait_for_room(std::stop_token stop);

    std::size_t size() const;
    std::size_t capacity() const;
    std::uint64_t misses() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable_any room_;
    std::deque<evp_pkey_ptr> keys_;
    std::size_t capacity_;
    std::uint64_t misses_ = 0;
};

// Where the cache gets each new leaf's key; returns null on failure. Called concurrently.
using leaf_key_source = std::function<evp_pkey_ptr()>;
// ecdsa_p256: a fresh key per call. rsa_*: a key from `rsa_pool`; when the pool is empty,
// a fresh EC P-256 key instead, because generating RSA here would stall the caller.
leaf_key_source make_leaf_key_source(key_type type, std::shared_ptr<leaf_key_pool> rsa_pool);

// ---- server context cache ----------------------------------------------------------------

struct cache_options {
    std::size_t capacity = 1024; // contexts kept; at least 1
    std::function<time_point()> clock;       // required: `now` for each mint
    random_source random;                    // required: serials
    leaf_key_source new_key;                 // default: a fresh EC P-256 key
    std::function<void(SSL_CTX*)> configure; // optional: ALPN, keylog, session options
};

// One TLS server context per host name (or pair of names), minted on first use, kept in a
// bounded LRU.
//
// Thread Safety: every member may be called from any thread. One mutex guards the map and
// the LRU list; minting runs outside it. Concurrent get()s for one new name mint it once:
// the first caller mints, the others wait on its shared_future. A failed mint is not cached.
class server_context_cache {
public:
    server_context_cache(std::shared_ptr<const ca> issuer, cache_options options);
    ~server_context_cache();
    server_context_cache(const server_context_cache&) = delete;
    server_context_cache& operator=(const server_context_cache&) = delete;

    // `name` as the client asked for it (SNI, CONNECT host): parsed with parse_host_name,
    // so an invalid name is an errc::invalid_name error and is never minted. `also`, when
    // not empty, is a second name the leaf carries (parsed alike): a reverse listener reached
    // without SNI presents its target's name and the address the client dialled.
    result<std::shared_ptr<SSL_CTX>> get(std::string_view name, std::string_view also = {});

    std::uint64_t minted() const; // successful mints since construction
    std::size_t size() const;     // contexts currently cached (including in-flight mints)
    const ca& issuer() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hoplens::certs
