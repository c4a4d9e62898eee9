// --help: generated from the option tables, so every option shows with its default.
#include "conf/schema.hpp"

namespace hoplens::conf::detail {
namespace {

constexpr std::size_t description_column = 34;
constexpr std::size_t line_width = 100;

// Appends the words of `text`, then `tail` unbroken, word-wrapped to the description column.
// The tail is the "(default: ...)" note, kept on one line so that it can be found with grep.
void wrap(std::string& out, std::string_view text, std::string_view tail) {
    std::size_t column = description_column;
    bool first = true;
    bool tail_done = tail.empty();
    while (!text.empty() || !tail_done) {
        std::string_view word;
        if (!text.empty()) {
            const auto space = text.find(' ');
            word = text.substr(0, space);
            text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        } else {
            word = tail;
            tail_done = true;
        }
        if (!first && column + 1 + word.size() > line_width) {
            out += "\n" + std::string(description_column, ' ');
            column = description_column;
            first = true;
        }
        if (!first) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        first = false;
    }
    out += '\n';
}

void row(std::string& out, const std::string& flag, std::string_view description,
         std::string_view default_note = {}) {
    out += "  " + flag;
    if (flag.size() + 2 >= description_column) {
        out += "\n" + std::string(description_column, ' ');
    } else {
        out += std::string(description_column - 2 - flag.size(), ' ');
    }
    wrap(out, description, default_note);
}

template <class Target>
void section(std::string& out, std::string_view title, const option_table<Target>& table) {
    out += "\n";
    out += title;
    out += ":\n";
    for (const auto& def : table) {
        const auto flag = "--" + def.name + (def.value_name.empty() ? "" : " " + def.value_name);
        row(out, flag, def.help, "(default: " + def.default_text + ")");
    }
}

} // namespace

std::string help_text() {
    std::string out = "Usage:\n"
                      "  hoplens [run] [options]\n"
                      "  hoplens ca init [--data-dir DIR] [--key-type TYPE] [--force]\n"
                      "  hoplens ca export [--data-dir DIR] [--der]      (to stdout)\n"
                      "  hoplens diag [--port PORT ...] [--json]\n"
                      "  hoplens --version | --help\n";
    section(out,
            "Run options. Each is also a config-file key (`name = value`, no leading --);\n"
            "flags win over the file, and a repeatable flag replaces the file's list",
            run_table());
    row(out, "--config FILE", "read options from FILE", "(default: none)");
    row(out, "--version", "print the versions of hoplens, OpenSSL and Boost");
    row(out, "--help, -h", "print this text");
    section(out, "ca init options", ca_init_table());
    section(out, "ca export options", ca_export_table());
    section(out, "diag options", diag_table());
    out += "\nExit status: 0 ok, 1 runtime error, 2 bad usage or configuration.\n";
    return out;
}

} // namespace hoplens::conf::detail
