#pragma once
// conf/: the one option schema of hoplens. A flag `--x` and a config-file key `x` are the
// same option. Parsing validates every value; a bad one becomes a usage_error whose message
// is the single line printed before exiting with status 2.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace hoplens::conf {

enum class listen_mode { explicit_proxy, sni, http, reverse };

// An address as written by the user: a numeric IPv4/IPv6 literal (brackets removed) and a port.
struct endpoint {
    std::string address; // "127.0.0.1", "::1", "0.0.0.0", "::"
    std::uint16_t port = 0;
};

struct listen_spec {
    listen_mode mode = listen_mode::explicit_proxy;
    endpoint bind;
    // reverse mode only: the fixed target.
    std::string reverse_host;
    std::uint16_t reverse_port = 443;
    std::string text; // the SPEC as given, for logs and /diag
};

// --map HOST=ADDR[:PORT]
struct host_mapping {
    std::string host;                  // lower-cased
    std::string address;               // a name or numeric address
    std::optional<std::uint16_t> port; // keep the requested port when absent
};

// --allow CIDR. bytes holds 4 (IPv4) or 16 (IPv6) network-order bytes.
struct cidr {
    std::vector<std::uint8_t> bytes;
    unsigned prefix_bits = 0;
    std::string text;
};

enum class key_type { ecdsa_p256, rsa_2048, rsa_3072 };

struct timeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds tls_handshake{10'000};
    std::chrono::milliseconds request_head{30'000};
    std::chrono::milliseconds idle{60'000};
    std::chrono::milliseconds upstream_response{60'000};
    std::chrono::milliseconds drain{10'000};
};

struct run_options {
    std::vector<listen_spec> listens; // default: explicit@127.0.0.1:8080
    std::filesystem::path
        data_dir; // resolved: flag, else $HOPLENS_DATA_DIR, else ~/.local/share/hoplens
    std::optional<std::filesystem::path> upstream_ca;
    bool insecure_upstream = false;
    std::vector<host_mapping> maps;
    std::vector<std::string> passthrough; // glob patterns, lower-cased
    std::vector<cidr> allow;              // default: 127.0.0.0/8 and ::1/128
    std::optional<std::filesystem::path> har;
    std::optional<std::filesystem::path> pcapng;
    std::optional<std::filesystem::path> keylog;
    std::optional<std::string> access_log; // a path, or "-" for stdout
    std::optional<endpoint> diag;          // default 127.0.0.1:9090; nullopt = off
    int backlog = 4096;
    int threads = 0; // resolved: the number of cores when not given
    std::string log_level = "info";
    timeouts timeout;
    std::size_t cert_cache_size = 1024; // leaf contexts kept (LRU)
    key_type leaf_key_type = key_type::ecdsa_p256;
    std::size_t max_header_bytes = 64 * 1024;
    std::size_t capture_body_limit = 1024 * 1024; // bytes of each body kept in the HAR
    std::size_t capture_queue = 64 * 1024 * 1024;  // chunk bytes waiting for the capture thread
    std::string instance_name; // default: the host name; used in logs and metrics
};

struct ca_init_options {
    std::filesystem::path data_dir;
    key_type type = key_type::ecdsa_p256;
    bool force = false;
};

struct ca_export_options {
    std::filesystem::path data_dir;
    bool der = false;
};

struct diag_options {
    std::vector<std::uint16_t> ports; // empty: every listening socket of the host
    bool json = false;
};

struct show_help {
    std::string text;
};
struct show_version {};

// What to print and the exit status: 2 for bad usage.
struct usage_error {
    std::string message; // one line, names the option and the reason
};

using command = std::variant<run_options, ca_init_options, ca_export_options, diag_options,
                             show_help, show_version, usage_error>;

// Environment lookups are a parameter so that tests need not touch the real environment.
struct environment {
    std::optional<std::string> hoplens_data_dir; // $HOPLENS_DATA_DIR
    std::optional<std::string> home;             // $HOME
    unsigned hardware_threads = 1;
    std::optional<std::string> host_name; // gethostname(); the default --instance-name
};
environment environment_from_process();

// Accepts `hoplens [run] [options]`, `hoplens ca init|export ...`, `hoplens diag ...`,
// `--help`, `--version`. Reads the file named by --config (same keys as the flags; flags win).
command parse_command_line(int argc, const char* const* argv, const environment& env);

// The same, with the arguments after the program name and the config-file read as parameters
// (tests and the fuzzer feed text without touching the file system). A reader returns the
// file's text, or the errno-style code that says why it could not.
using file_reader =
    std::function<std::variant<std::string, std::error_code>(const std::filesystem::path&)>;
command parse_arguments(std::span<const std::string> args, const environment& env,
                        const file_reader& read_file);
std::variant<std::string, std::error_code> read_whole_file(const std::filesystem::path& path);

// Single-value parsers, exposed for tests and fuzzing. Each returns the value or a message
// naming what is wrong (without the option name).
std::variant<listen_spec, std::string> parse_listen(std::string_view text);
std::variant<host_mapping, std::string> parse_map(std::string_view text);
std::variant<cidr, std::string> parse_cidr(std::string_view text);
std::variant<endpoint, std::string> parse_endpoint(std::string_view text);
// "10s", "500ms", "2m", "1h": a whole number and a unit.
std::variant<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
// "65536", "64KiB", "1MiB", "1GiB" (also kB/MB/GB = powers of 1000).
std::variant<std::size_t, std::string> parse_size(std::string_view text);

// --passthrough: does the lower-cased host name match the glob ('*' any run of characters,
// '?' one character)? Case-insensitive.
bool glob_match(std::string_view pattern, std::string_view host);
// The text that --help shows for a default and that the example config file uses.
std::string format_duration(std::chrono::milliseconds value);
std::string format_size(std::size_t bytes);

bool cidr_contains(const cidr& range, const std::uint8_t* address, std::size_t address_bytes);
std::string_view to_string(listen_mode mode);
std::string_view to_string(key_type type);

} // namespace hoplens::conf
