// Boost.ProgramOptions glue: subcommands, flags, the config file, and their errors as one line.
#include "conf/schema.hpp"

#include <boost/program_options.hpp>

#include <sstream>

namespace hoplens::conf {
namespace {

namespace po = boost::program_options;
using detail::option_table;

// Bare words on the command line land here so that they can be named in the error.
constexpr const char* stray_words = "unexpected-argument";

template <class Target>
void describe(const option_table<Target>& table, po::options_description& desc) {
    for (const auto& def : table) {
        if (def.value_name.empty()) {
            // A flag takes no value; in the config file it is `name = true|false`.
            desc.add_options()(def.name.c_str(),
                               po::value<std::string>()->zero_tokens()->implicit_value("true"));
        } else if (def.repeatable) {
            desc.add_options()(def.name.c_str(), po::value<std::vector<std::string>>());
        } else {
            desc.add_options()(def.name.c_str(), po::value<std::string>());
        }
    }
}

std::string flag_name(const std::string& boost_name) {
    const auto start = boost_name.find_first_not_of('-');
    return boost_name.empty() || boost_name[0] == '-'
               ? boost_name
               : "--" + boost_name.substr(start == std::string::npos ? 0 : start);
}

// Boost's own messages are long and vary between versions; say the same things in our form.
std::string command_line_message(const po::error& e) {
    if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
        return flag_name(unknown->get_option_name()) + ": unknown option";
    }
    if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
        const auto name = flag_name(syntax->get_option_name());
        switch (syntax->kind()) {
        case po::invalid_syntax::missing_parameter:
        case po::invalid_syntax::empty_adjacent_parameter:
            return name + ": missing value";
        case po::invalid_syntax::extra_parameter:
            return name + ": takes no value";
        default:
            return name + ": " + e.what();
        }
    }
    if (const auto* twice = dynamic_cast<const po::multiple_occurrences*>(&e)) {
        return flag_name(twice->get_option_name()) + ": given more than once";
    }
    return e.what();
}

std::string config_file_message(const po::error& e, const std::string& path) {
    const auto where = " in '" + path + "'";
    if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
        return "--config: unknown key '" + unknown->get_option_name() + "'" + where;
    }
    if (const auto* syntax = dynamic_cast<const po::invalid_config_file_syntax*>(&e)) {
        return "--config: bad line '" + syntax->tokens() + "'" + where + " (expected key = value)";
    }
    if (const auto* twice = dynamic_cast<const po::multiple_occurrences*>(&e)) {
        return "--config: key '" + twice->get_option_name() + "' given more than once" + where;
    }
    return "--config: " + std::string(e.what()) + where;
}

std::vector<std::string> values_of(const po::variable_value& value, bool repeatable) {
    if (repeatable) {
        return value.as<std::vector<std::string>>();
    }
    return {value.as<std::string>()};
}

// Applies each option from the command line, else from the config file: a repeatable option
// given as a flag replaces the file's list rather than adding to it.
template <class Target>
std::optional<std::string> apply(const option_table<Target>& table, const po::variables_map& flags,
                                 const po::variables_map& file, const std::string& file_path,
                                 Target& out) {
    for (const auto& def : table) {
        const bool from_flags = flags.count(def.name) != 0;
        if (!from_flags && file.count(def.name) == 0) {
            continue;
        }
        const auto& value = from_flags ? flags[def.name] : file[def.name];
        for (const auto& text : values_of(value, def.repeatable)) {
            if (auto reason = def.apply(out, text)) {
                return "--" + def.name + ": " + *reason +
                       (from_flags ? "" : " (in config file '" + file_path + "')");
            }
        }
    }
    return std::nullopt;
}

struct parsed_flags {
    po::variables_map map;
    std::optional<std::string> error;
};

parsed_flags parse_flags(std::span<const std::string> args, po::options_description& desc) {
    desc.add_options()("help,h", po::value<std::string>()->zero_tokens()->implicit_value("true"));
    desc.add_options()(stray_words, po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add(stray_words, -1);
    parsed_flags out;
    try {
        // No guessing: "--list" must not silently mean --listen.
        const auto style =
            po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
        po::store(po::command_line_parser(std::vector<std::string>(args.begin(), args.end()))
                      .options(desc)
                      .positional(positional)
                      .style(style)
                      .run(),
                  out.map);
    } catch (const po::error& e) {
        out.error = command_line_message(e);
        return out;
    }
    if (out.map.count(stray_words)) {
        out.error = "unexpected argument '" +
                    out.map[stray_words].as<std::vector<std::string>>().front() + "'";
    }
    return out;
}

command parse_run(std::span<const std::string> args, const environment& env,
                  const file_reader& read_file) {
    po::options_description flags_desc;
    describe(detail::run_table(), flags_desc);
    flags_desc.add_options()(detail::config_option.data(), po::value<std::string>());
    flags_desc.add_options()(detail::version_option.data(),
                             po::value<std::string>()->zero_tokens()->implicit_value("true"));
    auto flags = parse_flags(args, flags_desc);
    if (flags.error) {
        return usage_error{*flags.error};
    }
    if (flags.map.count(detail::help_option.data())) {
        return show_help{detail::help_text()};
    }
    if (flags.map.count(detail::version_option.data())) {
        return show_version{};
    }
    po::variables_map file;
    std::string config_path;
    if (flags.map.count(detail::config_option.data())) {
        config_path = flags.map[detail::config_option.data()].as<std::string>();
        if (config_path.empty()) {
            return usage_error{"--config: empty path"};
        }
        auto text = read_file(config_path);
        if (const auto* ec = std::get_if<std::error_code>(&text)) {
            return usage_error{"--config: cannot read '" + config_path + "': " + ec->message()};
        }
        po::options_description file_desc;
        describe(detail::run_table(), file_desc);
        try {
            std::istringstream stream(std::get<std::string>(text));
            po::store(po::parse_config_file(stream, file_desc), file);
        } catch (const po::error& e) {
            return usage_error{config_file_message(e, config_path)};
        }
    }
    auto out = detail::default_run_options();
    if (auto error = apply(detail::run_table(), flags.map, file, config_path, out)) {
        return usage_error{*error};
    }
    if (auto error = detail::finish_run_options(out, env)) {
        return usage_error{*error};
    }
    return out;
}

// `ca init`, `ca export` and `diag`: flags only, no config file.
template <class Target>
command parse_subcommand(const option_table<Target>& table, std::span<const std::string> args,
                         Target out) {
    po::options_description desc;
    describe(table, desc);
    auto flags = parse_flags(args, desc);
    if (flags.error) {
        return usage_error{*flags.error};
    }
    if (flags.map.count(detail::help_option.data())) {
        return show_help{detail::help_text()};
    }
    if (auto error = apply(table, flags.map, po::variables_map{}, "", out)) {
        return usage_error{*error};
    }
    return out;
}

template <class Target> command with_data_dir(command parsed, const environment& env) {
    if (auto* options = std::get_if<Target>(&parsed)) {
        if (auto error = detail::resolve_data_dir(options->data_dir, env)) {
            return usage_error{*error};
        }
    }
    return parsed;
}

// Values are echoed in messages; a control byte in one (a newline in a config value, an
// escape sequence in a flag) must not break the one-line promise or drive the terminal.
std::string one_line(const std::string& message) {
    std::string out;
    for (const char c : message) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

command dispatch(std::span<const std::string> args, const environment& env,
                 const file_reader& read_file) {
    if (args.empty() || args[0].starts_with('-')) {
        return parse_run(args, env, read_file);
    }
    const auto& word = args[0];
    if (word == "run") {
        return parse_run(args.subspan(1), env, read_file);
    }
    if (word == "diag") {
        return parse_subcommand(detail::diag_table(), args.subspan(1), diag_options{});
    }
    if (word != "ca") {
        return usage_error{"unknown command '" + word + "' (expected run, ca or diag)"};
    }
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "init") {
        return with_data_dir<ca_init_options>(
            parse_subcommand(detail::ca_init_table(), args.subspan(2), ca_init_options{}), env);
    }
    if (sub == "export") {
        return with_data_dir<ca_export_options>(
            parse_subcommand(detail::ca_export_table(), args.subspan(2), ca_export_options{}), env);
    }
    if (sub == "--help" || sub == "-h") {
        return show_help{detail::help_text()};
    }
    return usage_error{sub.empty()
                           ? "ca: expected 'init' or 'export'"
                           : "ca: unknown subcommand '" + sub + "' (expected init or export)"};
}

} // namespace

command parse_arguments(std::span<const std::string> args, const environment& env,
                        const file_reader& read_file) {
    auto result = dispatch(args, env, read_file);
    if (auto* error = std::get_if<usage_error>(&result)) {
        error->message = one_line(error->message);
    }
    return result;
}

command parse_command_line(int argc, const char* const* argv, const environment& env) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        args.emplace_back(argv[i]);
    }
    return parse_arguments(args, env, read_whole_file);
}

} // namespace hoplens::conf
