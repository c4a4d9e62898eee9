#pragma once
// Private to conf/: the option tables. Each row is one option: its flag `--name` and its
// config-file key `name`, the help line, the default as --help shows it, and the function that
// checks one value and stores it. The command-line parser, the config-file parser and --help
// are all driven by these rows, so an option cannot be in one and missing from another.

#include "conf/conf.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hoplens::conf::detail {

template <class Target> struct option_def {
    std::string name;        // "listen": flag --listen, config key listen
    std::string value_name;  // "SPEC"; empty for a switch (which takes no value as a flag)
    bool repeatable = false; // may be given several times; later sources replace earlier ones
    std::string help;
    std::string default_text;
    // Checks one value and stores it into the target; returns why the value is bad.
    std::function<std::optional<std::string>(Target&, const std::string& value)> apply;
};

template <class Target> using option_table = std::vector<option_def<Target>>;

const option_table<run_options>& run_table();
const option_table<ca_init_options>& ca_init_table();
const option_table<ca_export_options>& ca_export_table();
const option_table<diag_options>& diag_table();

// Options of the command line only: they are not config-file keys.
inline constexpr std::string_view config_option = "config";
inline constexpr std::string_view help_option = "help";
inline constexpr std::string_view version_option = "version";

// The starting point before any option is applied (--diag is on unless turned off).
run_options default_run_options();

// Fills what the tables leave unset: the default listener and allow list when none was given,
// the data dir from the environment, threads and instance name. Returns a usage-error line.
std::optional<std::string> finish_run_options(run_options& out, const environment& env);
std::optional<std::string> resolve_data_dir(std::filesystem::path& dir, const environment& env);

std::string help_text();

} // namespace hoplens::conf::detail
