// The option tables: every option hoplens has, its check and its default.
#include "conf/schema.hpp"
#include "conf/option_kinds.hpp"
#include "conf/text.hpp"

#include <algorithm>
#include <array>

namespace hoplens::conf::detail {
namespace {

constexpr std::string_view default_listen = "explicit@127.0.0.1:8080";
constexpr std::array<std::string_view, 2> default_allow{"127.0.0.0/8", "::1/128"};
constexpr std::string_view default_diag = "127.0.0.1:9090";
constexpr std::string_view data_dir_help_default = "$HOPLENS_DATA_DIR, else ~/.local/share/hoplens";

constexpr std::array<std::pair<std::string_view, key_type>, 3> key_type_words{
    {{"ecdsa-p256", key_type::ecdsa_p256},
     {"rsa-2048", key_type::rsa_2048},
     {"rsa-3072", key_type::rsa_3072}}};
constexpr std::array<std::string_view, 6> log_levels{"trace", "debug", "info",
                                                     "warn",  "error", "off"};

template <class Target> option_def<Target> data_dir_option(std::filesystem::path Target::*member) {
    return {"data-dir",
            "DIR",
            false,
            "the CA (ca.pem, ca.key) and state; created on first run",
            std::string(data_dir_help_default),
            [member](Target& t, const std::string& v) { return set_path(t.*member, v); }};
}

reason add_listen(run_options& t, const std::string& v) {
    auto parsed = parse_listen(v);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        return std::move(*error);
    }
    auto& spec = std::get<listen_spec>(parsed);
    for (const auto& other : t.listens) {
        // Port 0 binds a fresh port each time, so only fixed ports can collide.
        if (spec.bind.port != 0 && other.bind.address == spec.bind.address &&
            other.bind.port == spec.bind.port) {
            return "address of " + quote(spec.text) + " is already used by " + quote(other.text);
        }
    }
    t.listens.push_back(std::move(spec));
    return std::nullopt;
}

reason add_map(run_options& t, const std::string& v) {
    auto parsed = parse_map(v);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        return std::move(*error);
    }
    auto& mapping = std::get<host_mapping>(parsed);
    for (const auto& other : t.maps) {
        if (other.host == mapping.host) {
            return "host " + quote(mapping.host) + " is mapped twice";
        }
    }
    t.maps.push_back(std::move(mapping));
    return std::nullopt;
}

reason add_passthrough(run_options& t, const std::string& v) {
    if (v.empty() || v.size() > 253 ||
        v.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*?") !=
            std::string::npos) {
        return "bad pattern " + quote(v) + " (host-name characters and the globs * and ?)";
    }
    t.passthrough.push_back(to_lower(v));
    return std::nullopt;
}

reason add_allow(run_options& t, const std::string& v) {
    cidr range;
    if (auto error = store(parse_cidr(v), range)) {
        return error;
    }
    t.allow.push_back(std::move(range));
    return std::nullopt;
}

reason set_diag(run_options& t, const std::string& v) {
    if (v == "off") {
        t.diag.reset();
        return std::nullopt;
    }
    endpoint ep;
    if (auto error = store(parse_endpoint(v), ep)) {
        return error;
    }
    t.diag = std::move(ep);
    return std::nullopt;
}

reason set_log_level(run_options& t, const std::string& v) {
    for (auto level : log_levels) {
        if (v == level) {
            t.log_level = v;
            return std::nullopt;
        }
    }
    return "unknown level " + quote(v) + " (expected trace|debug|info|warn|error|off)";
}

reason set_instance_name(run_options& t, const std::string& v) {
    // It becomes part of capture file names and metric labels: keep it to safe characters.
    if (v.empty() || v.size() > 64 ||
        v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
            std::string::npos) {
        return "bad name " + quote(v) + " (1-64 letters, digits, '.', '-', '_')";
    }
    t.instance_name = v;
    return std::nullopt;
}

option_table<run_options> make_run_table() {
    using ms = std::chrono::milliseconds;
    const run_options d;
    return {
        {"listen", "SPEC", true,
         "MODE@ADDR:PORT, repeatable; MODE is explicit, sni, http or reverse:https://HOST[:PORT]; "
         "split at the last '@'; IPv6 as [::1]:8080; port 0 picks a free port",
         std::string(default_listen), add_listen},
        data_dir_option(&run_options::data_dir),
        path_option("upstream-ca", "FILE",
                    "extra PEM trust anchors for the upstream leg, besides the system store",
                    &run_options::upstream_ca),
        switch_option("insecure-upstream", "do not verify upstream certificates (warned at start)",
                      &run_options::insecure_upstream),
        {"map", "HOST=ADDR[:PORT]", true, "send HOST there instead of resolving it; repeatable",
         "none", add_map},
        {"passthrough", "PATTERN", true,
         "relay TLS for a matching SNI or CONNECT host without intercepting it (glob: * ?); "
         "repeatable",
         "none", add_passthrough},
        {"allow", "CIDR", true, "client addresses allowed; repeatable",
         std::string(default_allow[0]) + " and " + std::string(default_allow[1]), add_allow},
        path_option("har", "FILE", "write the decrypted exchanges as HAR 1.2", &run_options::har),
        path_option("pcapng", "FILE", "write the decrypted exchanges as pcapng",
                    &run_options::pcapng),
        path_option("keylog", "FILE", "write TLS secrets in NSS key log format",
                    &run_options::keylog),
        {"access-log", "FILE|-", false, "one line per exchange, to FILE or '-' for stdout", "none",
         [](run_options& t, const std::string& v) -> reason {
             if (v.empty()) {
                 return "empty path";
             }
             t.access_log = v;
             return std::nullopt;
         }},
        {"diag", "ADDR:PORT|off", false,
         "the diagnostics HTTP endpoint (/diag, /metrics, /healthz)", std::string(default_diag),
         set_diag},
        number_option<run_options>("backlog", "requested listen backlog", 1, 65535,
                                   std::to_string(d.backlog),
                                   [](run_options& t) -> int& { return t.backlog; }),
        number_option<run_options>("threads", "event-loop threads", 1, 1024, "the number of cores",
                                   [](run_options& t) -> int& { return t.threads; }),
        {"log-level", "LEVEL", false, "trace|debug|info|warn|error|off", d.log_level,
         set_log_level},
        duration_option(
            "connect-timeout", "upstream name lookup, and then TCP connect",
            [](run_options& t) -> ms& { return t.timeout.connect; }, ms(1)),
        duration_option(
            "tls-handshake-timeout", "TLS handshake, each leg",
            [](run_options& t) -> ms& { return t.timeout.tls_handshake; }, ms(1)),
        duration_option(
            "request-head-timeout", "receiving a request head",
            [](run_options& t) -> ms& { return t.timeout.request_head; }, ms(1)),
        duration_option(
            "idle-timeout", "an idle kept-alive connection",
            [](run_options& t) -> ms& { return t.timeout.idle; }, ms(1)),
        duration_option(
            "upstream-response-timeout", "waiting for the upstream's response head",
            [](run_options& t) -> ms& { return t.timeout.upstream_response; }, ms(1)),
        duration_option(
            "drain-timeout", "finishing in-flight exchanges at SIGTERM/SIGINT",
            [](run_options& t) -> ms& { return t.timeout.drain; }, ms(0)),
        number_option<run_options>(
            "cert-cache-size", "leaf TLS contexts kept (LRU)", 1, 1'000'000,
            std::to_string(d.cert_cache_size),
            [](run_options& t) -> std::size_t& { return t.cert_cache_size; }),
        {"leaf-key-type", "TYPE", false, "ecdsa-p256|rsa-2048|rsa-3072 (RSA from a pre-made pool)",
         std::string(to_string(d.leaf_key_type)),
         [](run_options& t, const std::string& v) {
             return store(choose(v, key_type_words), t.leaf_key_type);
         }},
        size_option("max-header-bytes", "largest request or response head", 1024, 16u << 20,
                    [](run_options& t) -> std::size_t& { return t.max_header_bytes; }),
        size_option("capture-body-limit", "bytes of each body kept in the HAR", 0, 1u << 30,
                    [](run_options& t) -> std::size_t& { return t.capture_body_limit; }),
        size_option("capture-queue",
                    "decrypted bytes waiting for the capture thread; more are dropped and counted",
                    std::size_t{1} << 20, std::size_t{16} << 30,
                    [](run_options& t) -> std::size_t& { return t.capture_queue; }),
        {"instance-name", "NAME", false, "names this instance in logs, metrics and capture files",
         "the host name", set_instance_name},
    };
}

} // namespace

const option_table<run_options>& run_table() {
    static const auto table = make_run_table();
    return table;
}

const option_table<ca_init_options>& ca_init_table() {
    static const option_table<ca_init_options> table{
        data_dir_option(&ca_init_options::data_dir),
        {"key-type", "TYPE", false, "ecdsa-p256|rsa-2048|rsa-3072",
         std::string(to_string(ca_init_options{}.type)),
         [](ca_init_options& t, const std::string& v) {
             return store(choose(v, key_type_words), t.type);
         }},
        switch_option("force", "replace an existing CA", &ca_init_options::force),
    };
    return table;
}

const option_table<ca_export_options>& ca_export_table() {
    static const option_table<ca_export_options> table{
        data_dir_option(&ca_export_options::data_dir),
        switch_option("der", "DER instead of PEM", &ca_export_options::der),
    };
    return table;
}

const option_table<diag_options>& diag_table() {
    static const option_table<diag_options> table{
        {"port", "PORT", true, "report only listening sockets on PORT; repeatable",
         "every listening socket",
         [](diag_options& t, const std::string& v) -> reason {
             const auto port = parse_unsigned(v, 65535);
             if (!port || *port == 0) {
                 return "bad port " + quote(v) + " (expected 1-65535)";
             }
             t.ports.push_back(static_cast<std::uint16_t>(*port));
             return std::nullopt;
         }},
        switch_option("json", "print JSON instead of text", &diag_options::json),
    };
    return table;
}

std::optional<std::string> resolve_data_dir(std::filesystem::path& dir, const environment& env) {
    if (!dir.empty()) {
        return std::nullopt;
    }
    if (env.hoplens_data_dir && !env.hoplens_data_dir->empty()) {
        dir = *env.hoplens_data_dir;
    } else if (env.home && !env.home->empty()) {
        dir = std::filesystem::path(*env.home) / ".local/share/hoplens";
    } else {
        return "--data-dir: not given, and neither $HOPLENS_DATA_DIR nor $HOME is set";
    }
    return std::nullopt;
}

run_options default_run_options() {
    run_options out;
    set_diag(out, std::string(default_diag));
    return out;
}

std::optional<std::string> finish_run_options(run_options& out, const environment& env) {
    if (out.listens.empty()) {
        out.listens.push_back(std::get<listen_spec>(parse_listen(default_listen)));
    }
    if (out.allow.empty()) {
        for (auto text : default_allow) {
            out.allow.push_back(std::get<cidr>(parse_cidr(text)));
        }
    }
    if (out.threads == 0) {
        out.threads = static_cast<int>(std::clamp(env.hardware_threads, 1u, 1024u));
    }
    if (out.instance_name.empty()) {
        const auto host = env.host_name.value_or("");
        if (host.empty() || set_instance_name(out, host)) {
            out.instance_name = "hoplens";
        }
    }
    return resolve_data_dir(out.data_dir, env);
}

} // namespace hoplens::conf::detail

namespace hoplens::conf {

std::string_view to_string(key_type type) {
    for (const auto& [word, value] : detail::key_type_words) {
        if (value == type) {
            return word;
        }
    }
    return "?";
}

} // namespace hoplens::conf
