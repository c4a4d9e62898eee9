#include "conf/conf.hpp"

#include "tests/conf/support.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <sstream>

using namespace hoplens::conf;
using namespace hoplens::conf::test;
using std::chrono::milliseconds;

TEST_CASE("no options: every default") {
    for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"run"}}) {
        const auto o = run_of(parse(args));
        REQUIRE(o.listens.size() == 1);
        CHECK(o.listens[0].mode == listen_mode::explicit_proxy);
        CHECK(o.listens[0].bind.address == "127.0.0.1");
        CHECK(o.listens[0].bind.port == 8080);
        CHECK(o.data_dir == "/home/tester/.local/share/hoplens");
        CHECK_FALSE(o.upstream_ca);
        CHECK_FALSE(o.insecure_upstream);
        CHECK(o.maps.empty());
        CHECK(o.passthrough.empty());
        REQUIRE(o.allow.size() == 2);
        CHECK(o.allow[0].text == "127.0.0.0/8");
        CHECK(o.allow[1].text == "::1/128");
        CHECK_FALSE(o.har);
        CHECK_FALSE(o.pcapng);
        CHECK_FALSE(o.keylog);
        CHECK_FALSE(o.access_log);
        REQUIRE(o.diag);
        CHECK(o.diag->address == "127.0.0.1");
        CHECK(o.diag->port == 9090);
        CHECK(o.backlog == 4096);
        CHECK(o.threads == 6);
        CHECK(o.log_level == "info");
        CHECK(o.timeout.connect == milliseconds(10'000));
        CHECK(o.timeout.idle == milliseconds(60'000));
        CHECK(o.cert_cache_size == 1024);
        CHECK(o.leaf_key_type == key_type::ecdsa_p256);
        CHECK(o.max_header_bytes == 64 * 1024);
        CHECK(o.capture_body_limit == 1024 * 1024);
        CHECK(o.instance_name == "box-1");
    }
}

TEST_CASE("data dir: flag, then $HOPLENS_DATA_DIR, then ~/.local/share/hoplens") {
    auto env = test_env();
    env.hoplens_data_dir = "/srv/hoplens";
    CHECK(run_of(parse({}, {}, env)).data_dir == "/srv/hoplens");
    CHECK(run_of(parse({"--data-dir", "/d"}, {}, env)).data_dir == "/d");
    env.hoplens_data_dir.reset();
    env.home.reset();
    CHECK(error_of(parse({}, {}, env)) ==
          "--data-dir: not given, and neither $HOPLENS_DATA_DIR nor $HOME is set");
    CHECK(run_of(parse({"--data-dir=/d"}, {}, env)).data_dir == "/d");
}

TEST_CASE("the instance name falls back when the host name is unusable") {
    auto env = test_env();
    env.host_name = "bad host/name";
    CHECK(run_of(parse({}, {}, env)).instance_name == "hoplens");
    env.host_name.reset();
    CHECK(run_of(parse({}, {}, env)).instance_name == "hoplens");
}

TEST_CASE("every run option accepts a good value") {
    struct row {
        std::vector<std::string> args;
        std::function<void(const run_options&)> check;
    };
    const std::vector<row> rows{
        {{"--listen", "sni@[::1]:8443", "--listen", "http@127.0.0.1:80"},
         [](const run_options& o) {
             REQUIRE(o.listens.size() == 2);
             CHECK(o.listens[0].mode == listen_mode::sni);
             CHECK(o.listens[0].bind.address == "::1");
             CHECK(o.listens[1].mode == listen_mode::http);
         }},
        {{"--listen=reverse:https://origin.test:9443@127.0.0.1:8443"},
         [](const run_options& o) {
             CHECK(o.listens[0].reverse_host == "origin.test");
             CHECK(o.listens[0].reverse_port == 9443);
         }},
        {{"--upstream-ca", "/etc/ca.pem"},
         [](const run_options& o) { CHECK(*o.upstream_ca == "/etc/ca.pem"); }},
        {{"--insecure-upstream"}, [](const run_options& o) { CHECK(o.insecure_upstream); }},
        {{"--map", "a.test=127.0.0.2", "--map", "b.test=[::1]:8443"},
         [](const run_options& o) {
             REQUIRE(o.maps.size() == 2);
             CHECK(o.maps[1].port == 8443);
         }},
        {{"--passthrough", "*.Bank.test", "--passthrough", "exact.test"},
         [](const run_options& o) {
             CHECK(o.passthrough == std::vector<std::string>{"*.bank.test", "exact.test"});
         }},
        {{"--allow", "10.0.0.0/8"},
         [](const run_options& o) {
             // Given --allow replaces the loopback default.
             REQUIRE(o.allow.size() == 1);
             CHECK(o.allow[0].prefix_bits == 8);
         }},
        {{"--har", "a.har", "--pcapng", "a.pcapng", "--keylog", "keys.log"},
         [](const run_options& o) {
             CHECK(*o.har == "a.har");
             CHECK(*o.pcapng == "a.pcapng");
             CHECK(*o.keylog == "keys.log");
         }},
        {{"--access-log", "-"}, [](const run_options& o) { CHECK(*o.access_log == "-"); }},
        {{"--diag", "off"}, [](const run_options& o) { CHECK_FALSE(o.diag); }},
        {{"--diag", "[::1]:0"},
         [](const run_options& o) {
             CHECK(o.diag->address == "::1");
             CHECK(o.diag->port == 0);
         }},
        {{"--backlog", "1"}, [](const run_options& o) { CHECK(o.backlog == 1); }},
        {{"--backlog", "65535"}, [](const run_options& o) { CHECK(o.backlog == 65535); }},
        {{"--threads", "3"}, [](const run_options& o) { CHECK(o.threads == 3); }},
        {{"--log-level", "trace"}, [](const run_options& o) { CHECK(o.log_level == "trace"); }},
        {{"--connect-timeout", "500ms", "--tls-handshake-timeout", "2s", "--request-head-timeout",
          "3s", "--idle-timeout", "5m", "--upstream-response-timeout", "1h", "--drain-timeout",
          "0s"},
         [](const run_options& o) {
             CHECK(o.timeout.connect == milliseconds(500));
             CHECK(o.timeout.tls_handshake == milliseconds(2000));
             CHECK(o.timeout.request_head == milliseconds(3000));
             CHECK(o.timeout.idle == milliseconds(300'000));
             CHECK(o.timeout.upstream_response == milliseconds(3'600'000));
             CHECK(o.timeout.drain == milliseconds(0));
         }},
        {{"--cert-cache-size", "10"}, [](const run_options& o) { CHECK(o.cert_cache_size == 10); }},
        {{"--leaf-key-type", "rsa-2048"},
         [](const run_options& o) { CHECK(o.leaf_key_type == key_type::rsa_2048); }},
        {{"--max-header-bytes", "16KiB"},
         [](const run_options& o) { CHECK(o.max_header_bytes == 16384); }},
        {{"--capture-body-limit", "0"},
         [](const run_options& o) { CHECK(o.capture_body_limit == 0); }},
        {{"--capture-queue", "1GiB"},
         [](const run_options& o) { CHECK(o.capture_queue == std::size_t{1} << 30); }},
        {{"--instance-name", "edge-7"},
         [](const run_options& o) { CHECK(o.instance_name == "edge-7"); }},
    };
    for (const auto& r : rows) {
        CAPTURE(r.args.front());
        r.check(run_of(parse(r.args)));
    }
}

TEST_CASE("bad values: one line naming the option and the reason") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> rows{
        {{"--listen", "foo@127.0.0.1:8080"},
         "--listen: unknown mode 'foo' (expected explicit, sni, http or "
         "reverse:https://HOST[:PORT]) in 'foo@127.0.0.1:8080'"},
        {{"--listen", "sni@127.0.0.1:443", "--listen", "http@127.0.0.1:443"},
         "--listen: address of 'http@127.0.0.1:443' is already used by 'sni@127.0.0.1:443'"},
        {{"--listen"}, "--listen: missing value"},
        {{"--data-dir", ""}, "--data-dir: empty path"},
        {{"--upstream-ca="}, "--upstream-ca: missing value"},
        {{"--upstream-ca", ""}, "--upstream-ca: empty path"},
        {{"--insecure-upstream=no"}, "--insecure-upstream: takes no value"},
        {{"--map", "a.test"}, "--map: expected HOST=ADDR[:PORT] in 'a.test'"},
        {{"--map", "a.test=1.1.1.1", "--map", "A.test=2.2.2.2"},
         "--map: host 'a.test' is mapped twice"},
        {{"--passthrough", "a/b"},
         "--passthrough: bad pattern 'a/b' (host-name characters and the globs * and ?)"},
        {{"--allow", "10.0.0.1/8"}, "--allow: host bits set after /8 in '10.0.0.1/8'"},
        {{"--allow", "everyone"}, "--allow: bad address 'everyone' in 'everyone'"},
        {{"--har", ""}, "--har: empty path"},
        {{"--access-log", ""}, "--access-log: empty path"},
        {{"--diag", "on"}, "--diag: 'on' is not a numeric IPv4 or [IPv6] address in 'on'"},
        {{"--diag", "127.0.0.1"}, "--diag: missing port in '127.0.0.1'"},
        {{"--backlog", "0"}, "--backlog: bad number '0' (expected 1-65535)"},
        {{"--backlog", "65536"}, "--backlog: bad number '65536' (expected 1-65535)"},
        {{"--backlog", "12abc"}, "--backlog: bad number '12abc' (expected 1-65535)"},
        {{"--backlog", "-5"}, "--backlog: bad number '-5' (expected 1-65535)"},
        {{"--backlog", "1", "--backlog", "2"}, "--backlog: given more than once"},
        {{"--threads", "0"}, "--threads: bad number '0' (expected 1-1024)"},
        {{"--log-level", "loud"},
         "--log-level: unknown level 'loud' (expected trace|debug|info|warn|error|off)"},
        {{"--connect-timeout", "10"},
         "--connect-timeout: bad duration '10' (expected a whole number and a unit: ms, s, m or h, "
         "as in 10s; at most 168h)"},
        {{"--idle-timeout", "0s"}, "--idle-timeout: duration '0s' is below 1ms"},
        {{"--cert-cache-size", "0"}, "--cert-cache-size: bad number '0' (expected 1-1000000)"},
        {{"--leaf-key-type", "dsa"},
         "--leaf-key-type: unknown value 'dsa' (expected ecdsa-p256|rsa-2048|rsa-3072)"},
        {{"--max-header-bytes", "100"}, "--max-header-bytes: size '100' is outside 1KiB-16MiB"},
        {{"--capture-body-limit", "lots"},
         "--capture-body-limit: bad size 'lots' (expected a whole number of bytes, optionally with "
         "KiB, MiB, GiB, kB, MB or GB)"},
        {{"--capture-queue", "1KiB"}, "--capture-queue: size '1KiB' is outside 1MiB-16GiB"},
        {{"--instance-name", "a b"},
         "--instance-name: bad name 'a b' (1-64 letters, digits, '.', '-', '_')"},
        {{"--bogus"}, "--bogus: unknown option"},
        {{"--list", "sni@127.0.0.1:1"}, "--list: unknown option"},
        {{"-x"}, "-x: unknown option"},
        {{"--", "stray"}, "unexpected argument 'stray'"},
        {{"run", "stray"}, "unexpected argument 'stray'"},
        {{"serve"}, "unknown command 'serve' (expected run, ca or diag)"},
        {{"--config", "/x"}, "--config: cannot read '/x': No such file or directory"},
        {{"--config", ""}, "--config: empty path"},
        {{"--log-level", "a\nb\x1b"},
         "--log-level: unknown level 'a\\x0ab\\x1b' (expected "
         "trace|debug|info|warn|error|off)"},
    };
    // Named copies, not structured bindings: clang 14 cannot capture those in CAPTURE.
    for (const auto& entry : rows) {
        const auto& args = entry.first;
        const auto& message = entry.second;
        CAPTURE(args.front());
        CHECK(error_of(parse(args)) == message);
    }
}

TEST_CASE("--help lists every option with its default; --version") {
    const auto help_command = parse({"--help"});
    const auto* help = std::get_if<show_help>(&help_command);
    REQUIRE(help);
    const std::vector<std::pair<std::string, std::string>> expected{
        {"--listen SPEC", "(default: explicit@127.0.0.1:8080)"},
        {"--data-dir DIR", "(default: $HOPLENS_DATA_DIR, else ~/.local/share/hoplens)"},
        {"--upstream-ca FILE", "(default: none)"},
        {"--insecure-upstream", "(default: off)"},
        {"--map HOST=ADDR[:PORT]", "(default: none)"},
        {"--passthrough PATTERN", "(default: none)"},
        {"--allow CIDR", "(default: 127.0.0.0/8 and ::1/128)"},
        {"--har FILE", "(default: none)"},
        {"--pcapng FILE", "(default: none)"},
        {"--keylog FILE", "(default: none)"},
        {"--access-log FILE|-", "(default: none)"},
        {"--diag ADDR:PORT|off", "(default: 127.0.0.1:9090)"},
        {"--backlog N", "(default: 4096)"},
        {"--threads N", "(default: the number of cores)"},
        {"--log-level LEVEL", "(default: info)"},
        {"--connect-timeout DURATION", "(default: 10s)"},
        {"--tls-handshake-timeout DURATION", "(default: 10s)"},
        {"--request-head-timeout DURATION", "(default: 30s)"},
        {"--idle-timeout DURATION", "(default: 1m)"},
        {"--upstream-response-timeout DURATION", "(default: 1m)"},
        {"--drain-timeout DURATION", "(default: 10s)"},
        {"--cert-cache-size N", "(default: 1024)"},
        {"--leaf-key-type TYPE", "(default: ecdsa-p256)"},
        {"--max-header-bytes SIZE", "(default: 64KiB)"},
        {"--capture-body-limit SIZE", "(default: 1MiB)"},
        {"--capture-queue SIZE", "(default: 64MiB)"},
        {"--instance-name NAME", "(default: the host name)"},
        {"--config FILE", "(default: none)"},
        {"--key-type TYPE", "(default: ecdsa-p256)"},
        {"--force", "(default: off)"},
        {"--der", "(default: off)"},
        {"--port PORT", "(default: every listening socket)"},
        {"--json", "(default: off)"},
    };
    for (const auto& entry : expected) {
        const auto& flag = entry.first;
        const auto& default_text = entry.second;
        CAPTURE(flag);
        auto at = help->text.find("  " + flag + " ");
        if (at == std::string::npos) {
            at = help->text.find("  " + flag + "\n");
        }
        REQUIRE(at != std::string::npos);
        // The default belongs to this option: it comes before the next option's line.
        const auto next = help->text.find("\n  --", at + 1);
        const auto d = help->text.find(default_text, at);
        CHECK(d < next);
    }
    std::istringstream lines(help->text);
    for (std::string line; std::getline(lines, line);) {
        CHECK_MESSAGE(line.size() <= 100, line);
    }
    CHECK(std::holds_alternative<show_help>(parse({"-h"})));
    // --help answers even when another value is bad: the user is asking how to fix it.
    CHECK(std::holds_alternative<show_help>(parse({"run", "--listen", "bad", "--help"})));
    CHECK(std::holds_alternative<show_help>(parse({"ca", "init", "--help"})));
    CHECK(std::holds_alternative<show_version>(parse({"--version"})));
    CHECK(std::holds_alternative<show_version>(parse({"run", "--version"})));
}

TEST_CASE("subcommands") {
    auto init = std::get<ca_init_options>(parse({"ca", "init"}));
    CHECK(init.data_dir == "/home/tester/.local/share/hoplens");
    CHECK(init.type == key_type::ecdsa_p256);
    CHECK_FALSE(init.force);
    init = std::get<ca_init_options>(
        parse({"ca", "init", "--data-dir", "/d", "--key-type", "rsa-3072", "--force"}));
    CHECK(init.data_dir == "/d");
    CHECK(init.type == key_type::rsa_3072);
    CHECK(init.force);

    auto exp = std::get<ca_export_options>(parse({"ca", "export", "--der"}));
    CHECK(exp.der);
    CHECK(exp.data_dir == "/home/tester/.local/share/hoplens");
    CHECK_FALSE(std::get<ca_export_options>(parse({"ca", "export", "--data-dir", "/d"})).der);

    auto d = std::get<diag_options>(parse({"diag"}));
    CHECK(d.ports.empty());
    CHECK_FALSE(d.json);
    d = std::get<diag_options>(parse({"diag", "--port", "443", "--port", "8080", "--json"}));
    CHECK(d.ports == std::vector<std::uint16_t>{443, 8080});
    CHECK(d.json);

    const std::vector<std::pair<std::vector<std::string>, std::string>> bad{
        {{"ca"}, "ca: expected 'init' or 'export'"},
        {{"ca", "rotate"}, "ca: unknown subcommand 'rotate' (expected init or export)"},
        {{"ca", "init", "--key-type", "ed25519"},
         "--key-type: unknown value 'ed25519' (expected ecdsa-p256|rsa-2048|rsa-3072)"},
        {{"ca", "init", "--listen", "sni@127.0.0.1:1"}, "--listen: unknown option"},
        {{"ca", "init", "--force=yes"}, "--force: takes no value"},
        {{"ca", "export", "--data-dir", "/a", "--data-dir", "/b"},
         "--data-dir: given more than once"},
        {{"diag", "--port", "0"}, "--port: bad port '0' (expected 1-65535)"},
        {{"diag", "--port"}, "--port: missing value"},
        {{"diag", "extra"}, "unexpected argument 'extra'"},
        {{"diag", "--version"}, "--version: unknown option"},
    };
    for (const auto& entry : bad) {
        const auto& args = entry.first;
        const auto& message = entry.second;
        CAPTURE(args.back());
        CHECK(error_of(parse(args)) == message);
    }
    auto env = test_env();
    env.home.reset();
    CHECK(error_of(parse({"ca", "export"}, {}, env)) ==
          "--data-dir: not given, and neither $HOPLENS_DATA_DIR nor $HOME is set");
}
