// The I/O behind collect.hpp: /proc/net files, /proc/sys files, the sock_diag dump.
#include "diag/collect.hpp"

#include <fstream>
#include <sstream>

namespace hoplens::diag {
namespace {

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

} // namespace

std::variant<counter_table, parse_error> read_kernel_counters() {
    counter_table table;
    for (const char* path : {"/proc/net/netstat", "/proc/net/snmp"}) {
        const auto text = slurp(path);
        if (!text) {
            return parse_error{std::string("cannot read ") + path};
        }
        auto parsed = parse_proc_net_counters(*text);
        if (auto* error = std::get_if<parse_error>(&parsed)) {
            return parse_error{std::string(path) + ": " + error->what};
        }
        table.merge(std::get<counter_table>(parsed));
    }
    return table;
}

std::variant<kernel_reading, parse_error> read_kernel() {
    kernel_reading reading;
    auto counters = read_kernel_counters();
    if (auto* error = std::get_if<parse_error>(&counters)) {
        return *error;
    }
    reading.counters = std::move(std::get<counter_table>(counters));
    for (const char* name : sysctl_names) {
        const auto text = slurp(sysctl_path(name));
        reading.sysctl[name] = text ? parse_sysctl_text(*text) : sysctl_value{};
    }
    auto sockets = read_tcp_sockets(all_tcp_states, true);
    if (auto* error = std::get_if<parse_error>(&sockets)) {
        return *error;
    }
    reading.sockets = std::move(std::get<std::vector<socket_record>>(sockets));
    return reading;
}

} // namespace hoplens::diag
