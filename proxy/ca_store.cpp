// Reading and writing the CA's files. All file I/O of the CA lives here (certs/ is pure).
#include "proxy/ca_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace hoplens::proxy {

namespace fs = std::filesystem;

namespace {

// A file's bytes, or one line naming the file and the cause.
std::variant<std::string, std::string> read_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT) {
            return std::variant<std::string, std::string>(
                std::in_place_index<1>, path.string() + " does not exist (create a CA with `hoplens ca init`)");
        }
        return std::variant<std::string, std::string>(
            std::in_place_index<1>, "cannot read " + path.string() + ": " + std::strerror(e));
    }
    std::string bytes;
    std::array<char, 16384> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return std::variant<std::string, std::string>(
                std::in_place_index<1>, "cannot read " + path.string() + ": " + std::strerror(e));
        }
        if (n == 0) {
            break;
        }
        bytes.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return std::variant<std::string, std::string>(std::in_place_index<0>, std::move(bytes));
}

std::string describe(const ca_files& files, const certs::error& e) {
    switch (e.code) {
    case certs::errc::corrupt_certificate:
    case certs::errc::not_a_ca:
        return files.cert.string() + ": " + e.message;
    case certs::errc::corrupt_key:
        return files.key.string() + ": " + e.message;
    case certs::errc::key_mismatch:
        return files.key.string() + " does not match " + files.cert.string() + ": " + e.message;
    default:
        return e.message;
    }
}

std::string host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) {
        return "unknown host";
    }
    return name.data();
}

// The data dir exists as a directory when this returns no message.
std::string prepare_data_dir(const fs::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        return S_ISDIR(st.st_mode) ? std::string() : "data dir " + dir.string() + " is not a directory";
    }
    if (errno != ENOENT) {
        return "cannot use data dir " + dir.string() + ": " + std::strerror(errno);
    }
    std::error_code ec;
    if (dir.has_parent_path()) {
        fs::create_directories(dir.parent_path(), ec);
    }
    // 0700: the directory holds the CA's private key.
    if (ec || (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)) {
        return "cannot create data dir " + dir.string() + ": " +
               (ec ? ec.message() : std::strerror(errno));
    }
    return {};
}

// A temporary file in `dir` holding `bytes`, fsynced, with `mode`. mkstemp creates it 0600,
// so a key is never readable by others, not even while it is being written.
std::variant<fs::path, std::string> write_temporary(const fs::path& dir, const std::string& bytes,
                                                    mode_t mode) {
    std::string name = (dir / ".ca-tmp-XXXXXX").string();
    const int fd = ::mkstemp(name.data());
    if (fd < 0) {
        return std::variant<fs::path, std::string>(
            std::in_place_index<1>, "cannot write in data dir " + dir.string() + ": " + std::strerror(errno));
    }
    std::size_t written = 0;
    bool ok = true;
    while (ok && written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        written += ok ? static_cast<std::size_t>(n) : 0;
    }
    ok = ok && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
    const int e = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
        ::unlink(name.c_str());
        return std::variant<fs::path, std::string>(
            std::in_place_index<1>, "cannot write " + name + ": " + std::strerror(e));
    }
    return fs::path(name);
}

// Moves `from` to `to`. Without `replace` an existing `to` is kept and this fails with EEXIST
// atomically (RENAME_NOREPLACE), so two concurrent `ca init`s cannot both win.
bool install(const fs::path& from, const fs::path& to, bool replace) {
    if (replace) {
        return ::rename(from.c_str(), to.c_str()) == 0;
    }
    return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0;
}

void sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd); // the renames are durable once the directory is
        ::close(fd);
    }
}

std::string already_exists(const fs::path& dir) {
    return "a CA already exists in " + dir.string() + " (use --force to replace it)";
}

} // namespace

ca_files ca_files_in(const fs::path& data_dir) {
    return {data_dir / "ca.pem", data_dir / "ca.key"};
}

ca_store_result load_ca_files(const fs::path& data_dir) {
    const ca_files files = ca_files_in(data_dir);
    auto cert = read_file(files.cert);
    if (cert.index() == 1) {
        return std::get<1>(cert);
    }
    auto key = read_file(files.key);
    if (key.index() == 1) {
        return std::get<1>(key);
    }
    auto loaded = certs::load_ca(std::get<0>(cert), std::get<0>(key));
    if (auto* e = std::get_if<certs::error>(&loaded)) {
        return describe(files, *e);
    }
    stored_ca out{std::make_shared<const certs::ca>(std::move(std::get<certs::ca>(loaded))), files,
                  false, {}};
    struct stat st {};
    if (::stat(files.key.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        std::array<char, 8> mode{};
        std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
        out.warnings.push_back(files.key.string() + " is accessible by group or others (mode " +
                               mode.data() + "); run chmod 600 on it");
    }
    return out;
}

ca_store_result create_ca_files(const fs::path& data_dir, certs::key_type type, bool force) {
    if (std::string problem = prepare_data_dir(data_dir); !problem.empty()) {
        return problem;
    }
    const ca_files files = ca_files_in(data_dir);
    std::error_code ec;
    if (!force && (fs::exists(fs::symlink_status(files.cert, ec)) ||
                   fs::exists(fs::symlink_status(files.key, ec)))) {
        return already_exists(data_dir);
    }
    auto created = certs::create_ca(type, host_name(), std::chrono::system_clock::now(),
                                    certs::openssl_random_bytes);
    if (auto* e = std::get_if<certs::error>(&created)) {
        return e->message;
    }
    auto ca = std::make_shared<const certs::ca>(std::move(std::get<certs::ca>(created)));
    auto key_tmp = write_temporary(data_dir, certs::key_to_pem(ca->key.get()), 0600);
    if (key_tmp.index() == 1) {
        return std::get<1>(key_tmp);
    }
    auto cert_tmp = write_temporary(data_dir, certs::cert_to_pem(ca->cert.get()), 0644);
    if (cert_tmp.index() == 1) {
        ::unlink(std::get<0>(key_tmp).c_str());
        return std::get<1>(cert_tmp);
    }
    const fs::path& key_from = std::get<0>(key_tmp);
    const fs::path& cert_from = std::get<0>(cert_tmp);
    std::string problem;
    if (!install(key_from, files.key, force)) {
        problem = errno == EEXIST ? already_exists(data_dir)
                                  : "cannot create " + files.key.string() + ": " + std::strerror(errno);
    } else if (!install(cert_from, files.cert, force)) {
        problem = errno == EEXIST ? already_exists(data_dir)
                                  : "cannot create " + files.cert.string() + ": " + std::strerror(errno);
        if (!force) {
            ::unlink(files.key.c_str()); // ours: installed a moment ago, matches no certificate
        }
    }
    ::unlink(key_from.c_str());
    ::unlink(cert_from.c_str());
    sync_directory(data_dir);
    if (!problem.empty()) {
        return problem;
    }
    return stored_ca{std::move(ca), files, true, {}};
}

ca_store_result ensure_ca(const fs::path& data_dir) {
    const ca_files files = ca_files_in(data_dir);
    std::error_code ec;
    const bool cert_missing = !fs::exists(fs::symlink_status(files.cert, ec));
    const bool key_missing = !fs::exists(fs::symlink_status(files.key, ec));
    if (cert_missing && key_missing) {
        return create_ca_files(data_dir, certs::key_type::ecdsa_p256, false);
    }
    return load_ca_files(data_dir);
}

} // namespace hoplens::proxy
