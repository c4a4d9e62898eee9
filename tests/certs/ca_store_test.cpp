#include "proxy/ca_store.hpp"

#include "proxy/ca_command.hpp"
#include "tests/certs/test_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

using namespace hoplens;
using namespace hoplens::certs::test;
namespace fs = std::filesystem;

namespace {

std::string error_of(const proxy::ca_store_result& r) {
    REQUIRE(std::holds_alternative<std::string>(r));
    const std::string& line = std::get<std::string>(r);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(!line.empty());
    return line;
}

proxy::stored_ca ok(proxy::ca_store_result r) {
    if (const auto* line = std::get_if<std::string>(&r)) {
        FAIL("unexpected error: " << *line);
    }
    return std::move(std::get<proxy::stored_ca>(r));
}

unsigned mode_of(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// Runs `fn` with stdout going to `path` (ca export writes the certificate there).
template <class Fn>
int with_stdout_to(const fs::path& path, Fn fn) {
    std::fflush(stdout);
    std::cout.flush();
    const int saved = ::dup(1);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, 1);
    ::close(fd);
    const int status = fn();
    std::cout.flush();
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    return status;
}

} // namespace

TEST_CASE("ca store: create writes a loadable CA, ca.key 0600, data dir 0700") {
    const temp_dir tmp;
    const fs::path dir = tmp.path() / "new" / "data";
    const ::mode_t old_umask = ::umask(0); // the key must not depend on the umask
    const auto created = ok(proxy::create_ca_files(dir, certs::key_type::ecdsa_p256, false));
    ::umask(old_umask);
    CHECK(created.created);
    CHECK(mode_of(dir / "ca.key") == 0600);
    CHECK(mode_of(dir / "ca.pem") == 0644);
    CHECK(mode_of(dir) == 0700);
    // No temporary files left behind.
    int files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) {
        ++files;
    }
    CHECK(files == 2);

    const auto loaded = ok(proxy::load_ca_files(dir));
    CHECK(loaded.warnings.empty());
    CHECK(X509_cmp(loaded.ca->cert.get(), created.ca->cert.get()) == 0);
    // The real openssl agrees about the files: key matches, a CA certificate.
    const auto text = run("openssl x509 -noout -text -in " + (dir / "ca.pem").string());
    CHECK(contains(text.output, "CA:TRUE"));
    const auto key = run("openssl pkey -noout -in " + (dir / "ca.key").string());
    CHECK(key.status == 0);
}

TEST_CASE("ca store: init twice without force refuses and leaves the files unchanged") {
    const temp_dir tmp;
    ok(proxy::create_ca_files(tmp.path(), certs::key_type::ecdsa_p256, false));
    const std::string cert = read_file(tmp.path() / "ca.pem");
    const std::string key = read_file(tmp.path() / "ca.key");
    const std::string line = error_of(proxy::create_ca_files(tmp.path(), certs::key_type::rsa_2048, false));
    CHECK(contains(line, "already exists"));
    CHECK(contains(line, "--force"));
    CHECK(read_file(tmp.path() / "ca.pem") == cert);
    CHECK(read_file(tmp.path() / "ca.key") == key);

    // Only ca.key present (a half-restored backup): still refused.
    fs::remove(tmp.path() / "ca.pem");
    error_of(proxy::create_ca_files(tmp.path(), certs::key_type::ecdsa_p256, false));
    CHECK(read_file(tmp.path() / "ca.key") == key);
    CHECK_FALSE(fs::exists(tmp.path() / "ca.pem"));

    // With force: replaced, still 0600.
    write_file(tmp.path() / "ca.pem", cert);
    ok(proxy::create_ca_files(tmp.path(), certs::key_type::ecdsa_p256, true));
    CHECK(read_file(tmp.path() / "ca.key") != key);
    CHECK(read_file(tmp.path() / "ca.pem") != cert);
    CHECK(mode_of(tmp.path() / "ca.key") == 0600);
    ok(proxy::load_ca_files(tmp.path()));
}

TEST_CASE("ca store: each bad CA file gives its documented error") {
    const temp_dir tmp;
    const fs::path dir = tmp.path();
    const fs::path cert = dir / "ca.pem";
    const fs::path key = dir / "ca.key";

    SUBCASE("missing") {
        const std::string line = error_of(proxy::load_ca_files(dir));
        CHECK(contains(line, cert.string() + " does not exist"));
        CHECK(contains(line, "hoplens ca init"));
    }
    ok(proxy::create_ca_files(dir, certs::key_type::ecdsa_p256, false));
    const std::string good_key = read_file(key);
    SUBCASE("key missing") {
        fs::remove(key);
        CHECK(contains(error_of(proxy::load_ca_files(dir)), key.string() + " does not exist"));
    }
    SUBCASE("unreadable") {
        // chmod 000 does not stop root; a directory in the file's place cannot be read by anyone.
        fs::remove(key);
        fs::create_directory(key);
        const std::string line = error_of(proxy::load_ca_files(dir));
        CHECK(contains(line, "cannot read " + key.string()));
        CHECK(contains(line, "Is a directory"));
    }
    SUBCASE("corrupt certificate") {
        write_file(cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        const std::string line = error_of(proxy::load_ca_files(dir));
        CHECK(contains(line, cert.string() + ": not a valid PEM certificate"));
    }
    SUBCASE("corrupt key") {
        write_file(key, good_key.substr(0, good_key.size() / 2));
        CHECK(contains(error_of(proxy::load_ca_files(dir)), key.string() + ": not a valid"));
    }
    SUBCASE("key of another CA") {
        const certs::ca other = make_ca();
        write_file(key, certs::key_to_pem(other.key.get()));
        const std::string line = error_of(proxy::load_ca_files(dir));
        CHECK(contains(line, key.string() + " does not match " + cert.string()));
    }
    SUBCASE("not a CA") {
        const certs::ca issuer = make_ca();
        const certs::evp_pkey_ptr leaf_key = make_key();
        const certs::x509_ptr leaf = make_leaf(issuer, "example.com", leaf_key.get());
        write_file(cert, certs::cert_to_pem(leaf.get()));
        write_file(key, certs::key_to_pem(leaf_key.get()));
        CHECK(contains(error_of(proxy::load_ca_files(dir)), "not a CA"));
    }
    SUBCASE("key readable by others: loads, with a warning") {
        fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                 fs::perms::others_read);
        const auto loaded = ok(proxy::load_ca_files(dir));
        REQUIRE(loaded.warnings.size() == 1);
        CHECK(contains(loaded.warnings.front(), "mode 0644"));
    }
}

TEST_CASE("ca store: a data dir that is a file, or under a file, is an error and nothing is written") {
    const temp_dir tmp;
    const fs::path file = tmp.path() / "plain-file";
    write_file(file, "x");
    CHECK(contains(error_of(proxy::create_ca_files(file, certs::key_type::ecdsa_p256, false)),
                   "is not a directory"));
    CHECK(contains(error_of(proxy::ensure_ca(file)), file.string()));
    CHECK(!error_of(proxy::create_ca_files(file / "sub", certs::key_type::ecdsa_p256, false)).empty());
    CHECK(read_file(file) == "x");
}

TEST_CASE("ca store: ensure_ca creates on first run, loads afterwards") {
    const temp_dir tmp;
    const auto first = ok(proxy::ensure_ca(tmp.path() / "d"));
    CHECK(first.created);
    CHECK(first.files.cert == tmp.path() / "d" / "ca.pem");
    CHECK(EVP_PKEY_get_base_id(first.ca->key.get()) == EVP_PKEY_EC);
    const auto second = ok(proxy::ensure_ca(tmp.path() / "d"));
    CHECK_FALSE(second.created);
    CHECK(X509_cmp(first.ca->cert.get(), second.ca->cert.get()) == 0);
    // One file of the pair gone: an error, never a silent new CA.
    fs::remove(tmp.path() / "d" / "ca.key");
    CHECK(contains(error_of(proxy::ensure_ca(tmp.path() / "d")), "ca.key does not exist"));
}

TEST_CASE("ca commands: init with each key type, export PEM and DER to stdout") {
    for (const auto type : {conf::key_type::ecdsa_p256, conf::key_type::rsa_2048}) {
        const temp_dir tmp;
        conf::ca_init_options init{tmp.path(), type, false};
        CHECK(with_stdout_to(tmp.path() / "init.out", [&] { return proxy::run_ca_init(init); }) == 0);
        CHECK(with_stdout_to(tmp.path() / "again.out", [&] { return proxy::run_ca_init(init); }) == 1);

        conf::ca_export_options pem{tmp.path(), false};
        CHECK(with_stdout_to(tmp.path() / "out.pem", [&] { return proxy::run_ca_export(pem); }) == 0);
        CHECK(read_file(tmp.path() / "out.pem") == read_file(tmp.path() / "ca.pem"));

        conf::ca_export_options der{tmp.path(), true};
        CHECK(with_stdout_to(tmp.path() / "out.der", [&] { return proxy::run_ca_export(der); }) == 0);
        const auto converted = run("openssl x509 -inform DER -in " + (tmp.path() / "out.der").string());
        CHECK(converted.status == 0);
        CHECK(converted.output == read_file(tmp.path() / "ca.pem"));
        const auto key_text = run("openssl pkey -noout -text -in " + (tmp.path() / "ca.key").string());
        CHECK(contains(key_text.output, type == conf::key_type::rsa_2048 ? "2048 bit" : "prime256v1"));
    }
    const temp_dir empty;
    conf::ca_export_options missing{empty.path(), false};
    CHECK(with_stdout_to(empty.path() / "out", [&] { return proxy::run_ca_export(missing); }) == 1);
}
