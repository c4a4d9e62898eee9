// Fuzzes conf/: the single-value parsers, and the whole command line with a config file.
// Input: command-line words separated by NUL, then two NULs, then the config file's text.
#include "conf/conf.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <string>
#include <vector>

using hoplens::fuzz::check;
using namespace hoplens::conf;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);

    (void)parse_listen(input);
    (void)parse_map(input);
    (void)parse_endpoint(input);
    (void)parse_duration(input);
    (void)parse_size(input);
    const auto parsed_cidr = parse_cidr(input);
    if (const auto* range = std::get_if<cidr>(&parsed_cidr)) {
        check(range->bytes.size() == 4 || range->bytes.size() == 16);
        check(range->prefix_bits <= range->bytes.size() * 8);
        check(cidr_contains(*range, range->bytes.data(), range->bytes.size()));
    }
    const auto half = input.size() / 2;
    (void)glob_match(std::string_view(input).substr(0, half), std::string_view(input).substr(half));

    const auto split = input.find(std::string("\0\0", 2));
    const std::string words = input.substr(0, split);
    const std::string config = split == std::string::npos ? "" : input.substr(split + 2);
    std::vector<std::string> args;
    for (std::size_t start = 0; start <= words.size() && args.size() < 64;) {
        const auto end = std::min(words.find('\0', start), words.size());
        args.push_back(words.substr(start, end - start));
        start = end + 1;
    }
    environment env;
    env.home = "/home/fuzz";
    env.hardware_threads = 4;
    const auto result = parse_arguments(args, env, [&](const std::filesystem::path&) {
        return std::variant<std::string, std::error_code>(config);
    });
    if (const auto* error = std::get_if<usage_error>(&result)) {
        check(!error->message.empty() && error->message.find('\n') == std::string::npos);
    }
    if (const auto* run = std::get_if<run_options>(&result)) {
        check(!run->listens.empty() && !run->allow.empty() && run->threads >= 1);
        check(run->backlog >= 1 && run->backlog <= 65535 && !run->data_dir.empty());
    }
    return 0;
}
