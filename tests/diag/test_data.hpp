#pragma once
// Reads the recorded kernel data in tests/diag/data (made by data/record.py).

#include "diag/collect.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace hoplens::diag::test {

inline std::string read_data(const std::string& name) {
    std::ifstream in(std::string(HOPLENS_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    REQUIRE_MESSAGE(in, "missing test data " << name);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::vector<socket_record> recorded_sockets() {
    std::vector<socket_record> records;
    for (const char* name : {"sock_diag_inet.bin", "sock_diag_inet6.bin"}) {
        const auto bytes = read_data(name);
        const auto status = parse_sock_diag_messages(
            std::as_bytes(std::span(bytes.data(), bytes.size())), records);
        REQUIRE(std::holds_alternative<dump_status>(status));
        REQUIRE(std::get<dump_status>(status) == dump_status::done);
    }
    return records;
}

inline counter_table recorded_counters() {
    counter_table table;
    for (const char* name : {"proc_net_netstat.txt", "proc_net_snmp.txt"}) {
        auto parsed = parse_proc_net_counters(read_data(name));
        REQUIRE(std::holds_alternative<counter_table>(parsed));
        table.merge(std::get<counter_table>(parsed));
    }
    return table;
}

} // namespace hoplens::diag::test
