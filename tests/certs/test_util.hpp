#pragma once
// Helpers shared by the certs tests: a fixed clock, temporary directories, files, running
// the real openssl binary, and an in-memory TLS handshake.

#include "certs/certs.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace hoplens::certs::test {

// Tests never read the wall clock: everything happens at this instant (2025-06-15).
inline const time_point fixed_now = std::chrono::system_clock::from_time_t(1'750'000'000);
inline std::time_t to_time_t(time_point t) {
    return std::chrono::system_clock::to_time_t(t);
}

template <class T>
T must(result<T> r) {
    if (const auto* e = std::get_if<error>(&r)) {
        FAIL("unexpected error: " << e->message);
    }
    return std::move(std::get<T>(r));
}

// A random_source for tests: distinct, reproducible serials.
void counter_random(std::span<std::uint8_t> out);

ca make_ca(key_type type = key_type::ecdsa_p256, time_point now = fixed_now);
evp_pkey_ptr make_key(key_type type = key_type::ecdsa_p256);
x509_ptr make_leaf(const ca& issuer, std::string_view name, EVP_PKEY* key, time_point now = fixed_now);

class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const {
        return path_;
    }

private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, std::string_view bytes);
std::string read_file(const std::filesystem::path& path);

struct command_result {
    int status;
    std::string output; // stdout and stderr
};
command_result run(const std::string& command_line);

// `openssl verify -x509_strict -purpose sslserver` at fixed_now (+ offset), checking the
// host name or IP address as a TLS client would.
command_result openssl_verify(const ca& issuer, X509* leaf, const host_name& name,
                              std::chrono::seconds offset = std::chrono::seconds(0));

struct handshake_result {
    bool ok = false;
    int version = 0;        // SSL_version on the client
    long verify_result = 0; // X509_V_OK or the reason the client rejected the server
    std::string server_subject;
};
// A TLS 1.3 handshake over a BIO pair between `server` and a client that trusts only
// `trusted` and checks `name` (SSL_set1_host for DNS, the IP address otherwise); then one
// application record from client to server.
handshake_result handshake(SSL_CTX* server, X509* trusted, const host_name& name);

} // namespace hoplens::certs::test
