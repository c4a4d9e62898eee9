#include "conf/conf.hpp"

#include "tests/conf/support.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace hoplens::conf;
using namespace hoplens::conf::test;
using std::chrono::milliseconds;

TEST_CASE("config file: same keys as the flags; flags win") {
    const fake_files files{{"/etc/hoplens.conf", "# comment\n"
                                                 "listen = sni@127.0.0.1:443\n"
                                                 "listen = http@127.0.0.1:80\n"
                                                 "backlog = 100\n"
                                                 "insecure-upstream = true\n"
                                                 "idle-timeout = 2m\n"
                                                 "log-level = debug\n"}};
    const auto from_file = run_of(parse({"--config", "/etc/hoplens.conf"}, files));
    CHECK(from_file.listens.size() == 2);
    CHECK(from_file.backlog == 100);
    CHECK(from_file.insecure_upstream);
    CHECK(from_file.timeout.idle == milliseconds(120'000));
    CHECK(from_file.log_level == "debug");

    const auto mixed = run_of(parse(
        {"--backlog", "7", "--config", "/etc/hoplens.conf", "--listen", "explicit@[::1]:3128"},
        files));
    CHECK(mixed.backlog == 7);
    REQUIRE(mixed.listens.size() == 1); // the flag's list replaces the file's
    CHECK(mixed.listens[0].bind.address == "::1");
    CHECK(mixed.log_level == "debug"); // untouched by flags: the file's value
}

TEST_CASE("config file errors name the file") {
    const std::vector<std::pair<std::string, std::string>> rows{
        {"backlog = zero\n",
         "--backlog: bad number 'zero' (expected 1-65535) (in config file '/c')"},
        {"listen = foo@127.0.0.1:8080\n",
         "--listen: unknown mode 'foo' (expected explicit, sni, http or "
         "reverse:https://HOST[:PORT]) in 'foo@127.0.0.1:8080' (in config file '/c')"},
        {"insecure-upstream = maybe\n",
         "--insecure-upstream: unknown value 'maybe' (expected true|false|yes|no|on|off|1|0) (in "
         "config file '/c')"},
        {"bogus = 1\n", "--config: unknown key 'bogus' in '/c'"},
        {"config = /other\n", "--config: unknown key 'config' in '/c'"},
        {"backlog\n", "--config: bad line 'backlog' in '/c' (expected key = value)"},
        {"backlog = 1\nbacklog = 2\n", "--config: key 'backlog' given more than once in '/c'"},
    };
    for (const auto& entry : rows) {
        const auto& text = entry.first;
        const auto& message = entry.second;
        CAPTURE(text);
        CHECK(error_of(parse({"--config", "/c"}, {{"/c", text}})) == message);
    }
    CHECK_FALSE(run_of(parse({"--config", "/c"}, {{"/c", "insecure-upstream = false\n"}}))
                    .insecure_upstream);
}

namespace {

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "hoplens-conf-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::filesystem::remove_all(path);
    }
};

command parse_real(std::vector<std::string> args) {
    std::vector<const char*> argv{"hoplens"};
    for (const auto& a : args) {
        argv.push_back(a.c_str());
    }
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), test_env());
}

} // namespace

TEST_CASE("real config files on disk") {
    temp_dir dir;
    const auto file = dir.path / "hoplens.conf";
    std::ofstream(file) << "backlog = 123\nmap = a.test=127.0.0.9\n";
    const auto o = run_of(parse_real({"--config", file.string(), "--threads", "2"}));
    CHECK(o.backlog == 123);
    REQUIRE(o.maps.size() == 1);
    CHECK(o.maps[0].address == "127.0.0.9");
    CHECK(o.threads == 2);
    CHECK(run_of(parse_real({"--config", file.string(), "--backlog", "9"})).backlog == 9);

    CHECK(error_of(parse_real({"--config", dir.path.string()})) ==
          "--config: cannot read '" + dir.path.string() + "': Is a directory");
    const auto missing = (dir.path / "missing.conf").string();
    CHECK(error_of(parse_real({"--config", missing})) ==
          "--config: cannot read '" + missing + "': No such file or directory");
    if (geteuid() != 0) { // root reads a mode-000 file anyway
        std::filesystem::permissions(file, std::filesystem::perms::none);
        CHECK(error_of(parse_real({"--config", file.string()})) ==
              "--config: cannot read '" + file.string() + "': Permission denied");
    }
}

TEST_CASE("the example config file parses and matches the defaults") {
    const auto text =
        read_whole_file(std::filesystem::path(HOPLENS_SOURCE_DIR) / "conf/hoplens.conf.example");
    REQUIRE(std::holds_alternative<std::string>(text));
    const auto& body = std::get<std::string>(text);
    // Every run option in --help is documented in the example as "# key =".
    const auto help = std::get<show_help>(parse({"--help"})).text;
    const auto run_section = help.substr(0, help.find("  --config FILE"));
    std::istringstream help_lines(run_section);
    int keys = 0;
    for (std::string line; std::getline(help_lines, line);) {
        if (line.starts_with("  --")) {
            const auto key = line.substr(4, line.find(' ', 4) - 4);
            CHECK_MESSAGE(body.find("\n# " + key + " =") != std::string::npos, key);
            ++keys;
        }
    }
    CHECK(keys == 27);
    // Uncommenting every "# key = value" line gives a valid file equal to the defaults.
    std::string uncommented;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("# ") && line.find(" = ") != std::string::npos &&
            line.find(' ', 2) == line.find(" = ")) {
            uncommented += line.substr(2) + "\n";
        }
    }
    const auto o = run_of(parse({"--config", "/ex"}, {{"/ex", uncommented}}));
    const auto d = run_of(parse({}));
    CHECK(o.listens.size() == d.listens.size());
    CHECK(o.backlog == d.backlog);
    CHECK(o.diag->port == d.diag->port);
    CHECK(o.allow.size() == d.allow.size());
    CHECK(o.timeout.idle == d.timeout.idle);
    CHECK(o.timeout.drain == d.timeout.drain);
    CHECK(o.max_header_bytes == d.max_header_bytes);
    CHECK(o.capture_body_limit == d.capture_body_limit);
    CHECK(o.capture_queue == d.capture_queue);
    CHECK(o.leaf_key_type == d.leaf_key_type);
    CHECK(o.log_level == d.log_level);
}
