#include "diag/proc_parse.hpp"

#include <charconv>
#include <vector>

namespace hoplens::diag {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::vector<std::string_view> split_words(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < line.size() && !is_space(line[i])) {
            ++i;
        }
        if (i > start) {
            words.push_back(line.substr(start, i - start));
        }
    }
    return words;
}

std::optional<std::int64_t> to_int(std::string_view word) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (ec != std::errc{} || end != word.data() + word.size()) {
        return std::nullopt;
    }
    return value;
}

// Splits off the next line; the view shrinks past its newline.
std::string_view next_line(std::string_view& text) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
}

} // namespace

std::optional<std::int64_t> sysctl_value::as_int() const {
    if (!text) {
        return std::nullopt;
    }
    return to_int(*text);
}

std::variant<counter_table, parse_error> parse_proc_net_counters(std::string_view text) {
    counter_table table;
    while (!text.empty()) {
        const auto names = split_words(next_line(text));
        if (names.empty()) {
            continue;
        }
        if (text.empty()) {
            return parse_error{"header line without a value line: " + std::string(names[0])};
        }
        const auto values = split_words(next_line(text));
        if (values.empty() || values[0] != names[0] || names[0].back() != ':') {
            return parse_error{"value line does not match header " + std::string(names[0])};
        }
        if (values.size() != names.size()) {
            return parse_error{"count mismatch in " + std::string(names[0])};
        }
        const auto prefix = names[0].substr(0, names[0].size() - 1);
        for (std::size_t i = 1; i < names.size(); ++i) {
            const auto value = to_int(values[i]);
            if (!value) {
                return parse_error{"not an integer: " + std::string(values[i])};
            }
            table.insert_or_assign(std::string(prefix) + "." + std::string(names[i]), *value);
        }
    }
    return table;
}

sysctl_value parse_sysctl_text(std::string_view text) {
    std::string folded;
    for (const auto word : split_words(text)) {
        if (!folded.empty()) {
            folded += ' ';
        }
        folded += word;
    }
    return sysctl_value{folded};
}

std::optional<std::pair<std::int64_t, std::int64_t>> parse_port_range(const sysctl_value& v) {
    if (!v.text) {
        return std::nullopt;
    }
    const auto words = split_words(*v.text);
    if (words.size() != 2) {
        return std::nullopt;
    }
    const auto low = to_int(words[0]);
    const auto high = to_int(words[1]);
    if (!low || !high || *low > *high) {
        return std::nullopt;
    }
    return std::pair{*low, *high};
}

std::string sysctl_path(std::string_view dotted_name) {
    std::string path = "/proc/sys/";
    for (const char c : dotted_name) {
        path += c == '.' ? '/' : c;
    }
    return path;
}

} // namespace hoplens::diag
