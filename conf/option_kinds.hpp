#pragma once
// The kinds of option value (switch, path, number, duration, size, one of some words): each
// parses, checks its bounds and names the problem in the one-line error. Private to conf/.

#include "conf/schema.hpp"
#include "conf/text.hpp"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace hoplens::conf::detail {

using reason = std::optional<std::string>;

inline std::string quote(std::string_view text) {
    return "'" + std::string(text) + "'";
}

// One of a fixed set of words, named in the error so the user sees the choices.
template <class Value, std::size_t N>
std::variant<Value, std::string>
choose(std::string_view text, const std::array<std::pair<std::string_view, Value>, N>& words) {
    std::string names;
    for (const auto& [word, value] : words) {
        if (text == word) {
            return value;
        }
        names += names.empty() ? "" : "|";
        names += word;
    }
    return "unknown value " + quote(text) + " (expected " + names + ")";
}

constexpr std::array<std::pair<std::string_view, bool>, 8> switch_words{{{"true", true},
                                                                         {"false", false},
                                                                         {"yes", true},
                                                                         {"no", false},
                                                                         {"on", true},
                                                                         {"off", false},
                                                                         {"1", true},
                                                                         {"0", false}}};

inline reason set_path(std::filesystem::path& out, const std::string& v) {
    if (v.empty()) {
        return "empty path";
    }
    out = v;
    return std::nullopt;
}

// Stores the value in `out`, or returns the error text; the one shape every apply shares.
template <class Value> reason store(std::variant<Value, std::string> parsed, Value& out) {
    if (auto* error = std::get_if<std::string>(&parsed)) {
        return std::move(*error);
    }
    out = std::get<Value>(std::move(parsed));
    return std::nullopt;
}

template <class Target>
option_def<Target> switch_option(std::string name, std::string help, bool Target::*member) {
    return {std::move(name),
            "",
            false,
            std::move(help),
            "off",
            [member](Target& t, const std::string& v) {
                return store(choose(v, switch_words), t.*member);
            }};
}

template <class Target>
option_def<Target> path_option(std::string name, std::string value_name, std::string help,
                               std::optional<std::filesystem::path> Target::*member) {
    return {std::move(name),
            std::move(value_name),
            false,
            std::move(help),
            "none",
            [member](Target& t, const std::string& v) -> reason {
                std::filesystem::path path;
                auto error = set_path(path, v);
                if (!error) {
                    t.*member = std::move(path);
                }
                return error;
            }};
}

// A whole number in [min, max], stored through `field(target)`.
template <class Target, class Field>
option_def<Target> number_option(std::string name, std::string help, std::uint64_t min,
                                 std::uint64_t max, std::string default_text, Field field) {
    return {std::move(name),
            "N",
            false,
            std::move(help),
            std::move(default_text),
            [=](Target& t, const std::string& v) -> reason {
                const auto n = parse_unsigned(v, max);
                if (!n || *n < min) {
                    return "bad number " + quote(v) + " (expected " + std::to_string(min) + "-" +
                           std::to_string(max) + ")";
                }
                auto& out = field(t);
                out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
                return std::nullopt;
            }};
}

template <class Field>
option_def<run_options> duration_option(std::string name, std::string help, Field field,
                                        std::chrono::milliseconds min) {
    run_options defaults;
    return {std::move(name),
            "DURATION",
            false,
            std::move(help),
            format_duration(field(defaults)),
            [=](run_options& t, const std::string& v) -> reason {
                const auto parsed = parse_duration(v);
                if (auto* error = std::get_if<std::string>(&parsed)) {
                    return *error;
                }
                if (std::get<std::chrono::milliseconds>(parsed) < min) {
                    return "duration " + quote(v) + " is below " + format_duration(min);
                }
                field(t) = std::get<std::chrono::milliseconds>(parsed);
                return std::nullopt;
            }};
}

template <class Field>
option_def<run_options> size_option(std::string name, std::string help, std::size_t min,
                                    std::size_t max, Field field) {
    run_options defaults;
    return {std::move(name),
            "SIZE",
            false,
            std::move(help) + " (" + format_size(min) + "-" + format_size(max) + ")",
            format_size(field(defaults)),
            [=](run_options& t, const std::string& v) -> reason {
                const auto parsed = parse_size(v);
                if (auto* error = std::get_if<std::string>(&parsed)) {
                    return *error;
                }
                const auto bytes = std::get<std::size_t>(parsed);
                if (bytes < min || bytes > max) {
                    return "size " + quote(v) + " is outside " + format_size(min) + "-" +
                           format_size(max);
                }
                field(t) = bytes;
                return std::nullopt;
            }};
}

} // namespace hoplens::conf::detail
