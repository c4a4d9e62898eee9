// The process's side of conf/: environment variables, the core count, the host name and the
// config file's bytes. Everything else in conf/ is a pure function of these.
#include "conf/conf.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

namespace hoplens::conf {
namespace {

std::optional<std::string> variable(const char* name) {
    const char* value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
}

} // namespace

environment environment_from_process() {
    environment env;
    env.hoplens_data_dir = variable("HOPLENS_DATA_DIR");
    env.home = variable("HOME");
    env.hardware_threads = std::max(1u, std::thread::hardware_concurrency());
    std::array<char, 256> name{};
    if (gethostname(name.data(), name.size() - 1) == 0) {
        env.host_name = std::string(name.data());
    }
    return env;
}

std::variant<std::string, std::error_code> read_whole_file(const std::filesystem::path& path) {
    // A config file is small; anything past this is not one and is refused, not slurped.
    constexpr std::size_t max_bytes = 1 << 20;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file) {
        return std::error_code(errno, std::generic_category());
    }
    std::string text;
    std::array<char, 8192> chunk{};
    while (true) {
        const auto n = std::fread(chunk.data(), 1, chunk.size(), file.get());
        text.append(chunk.data(), n);
        if (text.size() > max_bytes) {
            return std::make_error_code(std::errc::file_too_large);
        }
        if (n < chunk.size()) {
            break;
        }
    }
    if (std::ferror(file.get())) {
        // fopen succeeds on a directory; the read is what fails, with EISDIR.
        return std::error_code(errno, std::generic_category());
    }
    return text;
}

} // namespace hoplens::conf
