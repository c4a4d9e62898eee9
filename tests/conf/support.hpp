#pragma once
// Shared helpers for the conf tests: run the parser on a list of words with a fixed
// environment, and read back the outcome.

#include "conf/conf.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace hoplens::conf::test {

inline environment test_env() {
    environment env;
    env.home = "/home/tester";
    env.hardware_threads = 6;
    env.host_name = "box-1";
    return env;
}

// Config "files" by path, for parses that need no real file.
using fake_files = std::map<std::string, std::string>;

inline command parse(std::vector<std::string> args, const fake_files& files = {},
                     const environment& env = test_env()) {
    return parse_arguments(
        args, env,
        [&](const std::filesystem::path& p) -> std::variant<std::string, std::error_code> {
            const auto it = files.find(p.string());
            if (it == files.end()) {
                return std::make_error_code(std::errc::no_such_file_or_directory);
            }
            return it->second;
        });
}

inline std::string error_of(const command& c) {
    const auto* e = std::get_if<usage_error>(&c);
    return e ? e->message : "(no error)";
}

inline run_options run_of(const command& c) {
    INFO("unexpected: " << error_of(c));
    REQUIRE(std::holds_alternative<run_options>(c));
    return std::get<run_options>(c);
}

} // namespace hoplens::conf::test
