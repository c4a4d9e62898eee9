// Not a *_test.cpp: added to the test binary by tests/certs/CMakeLists.txt.
#include "tests/certs/test_util.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace hoplens::certs::test {

namespace fs = std::filesystem;

void counter_random(std::span<std::uint8_t> out) {
    // Serials in tests need only differ: a counter makes failures reproducible.
    static std::atomic<std::uint64_t> next{1};
    const std::uint64_t value = next++;
    std::fill(out.begin(), out.end(), std::uint8_t{0x5a});
    for (std::size_t i = 0; i < 8 && i < out.size(); ++i) {
        out[out.size() - 1 - i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

ca make_ca(key_type type, time_point now) {
    return must(create_ca(type, "test-host", now, counter_random));
}

evp_pkey_ptr make_key(key_type type) {
    return must(generate_key(type));
}

x509_ptr make_leaf(const ca& issuer, std::string_view name, EVP_PKEY* key, time_point now) {
    const host_name parsed = must(parse_host_name(name));
    std::array<std::uint8_t, serial_bytes> serial{};
    counter_random(serial);
    return must(mint_leaf(issuer, parsed, key, now, serial));
}

temp_dir::temp_dir() {
    std::string name = (fs::temp_directory_path() / "hoplens-certs-XXXXXX").string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path_ = name;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

command_result run(const std::string& command_line) {
    FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    std::array<char, 4096> buffer{};
    while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
        output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

command_result openssl_verify(const ca& issuer, X509* leaf, const host_name& name,
                              std::chrono::seconds offset) {
    const temp_dir dir;
    write_file(dir.path() / "ca.pem", cert_to_pem(issuer.cert.get()));
    write_file(dir.path() / "leaf.pem", cert_to_pem(leaf));
    const std::string check = name.kind == name_kind::dns ? " -verify_hostname " + name.text
                                                          : " -verify_ip " + name.text;
    return run("openssl verify -x509_strict -purpose sslserver -attime " +
               std::to_string(to_time_t(fixed_now + offset)) + check + " -CAfile " +
               (dir.path() / "ca.pem").string() + " " + (dir.path() / "leaf.pem").string());
}

handshake_result handshake(SSL_CTX* server, X509* trusted, const host_name& name) {
    ssl_ctx_ptr client_ctx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(client_ctx);
    REQUIRE(SSL_CTX_set_min_proto_version(client_ctx.get(), TLS1_3_VERSION) == 1);
    REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), trusted) == 1);
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(client_ctx.get()), to_time_t(fixed_now));

    ssl_ptr client(SSL_new(client_ctx.get()));
    ssl_ptr server_ssl(SSL_new(server));
    REQUIRE(client);
    REQUIRE(server_ssl);
    if (name.kind == name_kind::dns) {
        REQUIRE(SSL_set_tlsext_host_name(client.get(), name.text.c_str()) == 1);
        REQUIRE(SSL_set1_host(client.get(), name.text.c_str()) == 1);
    } else {
        REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.get()), name.text.c_str()) == 1);
    }
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server_ssl.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server_ssl.get());

    handshake_result out;
    const auto retry = [](SSL* ssl, int rc) {
        const int e = SSL_get_error(ssl, rc);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    };
    bool client_done = false;
    bool server_done = false;
    for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
        if (!client_done) {
            const int rc = SSL_do_handshake(client.get());
            client_done = rc == 1;
            if (!client_done && !retry(client.get(), rc)) {
                break;
            }
        }
        if (!server_done) {
            const int rc = SSL_do_handshake(server_ssl.get());
            server_done = rc == 1;
            if (!server_done && !retry(server_ssl.get(), rc)) {
                break;
            }
        }
    }
    ERR_clear_error();
    out.verify_result = SSL_get_verify_result(client.get());
    out.version = SSL_version(client.get());
    if (X509* peer = SSL_get0_peer_certificate(client.get())) {
        std::array<char, 256> subject{};
        X509_NAME_oneline(X509_get_subject_name(peer), subject.data(), subject.size());
        out.server_subject = subject.data();
    }
    if (client_done && server_done) {
        const std::string ping = "ping";
        std::array<char, 8> received{};
        out.ok = SSL_write(client.get(), ping.data(), static_cast<int>(ping.size())) == 4 &&
                 SSL_read(server_ssl.get(), received.data(), static_cast<int>(received.size())) == 4 &&
                 std::string(received.data(), 4) == ping;
    }
    return out;
}

} // namespace hoplens::certs::test
