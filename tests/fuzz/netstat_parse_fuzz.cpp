// Fuzzes diag/'s parsers of what the kernel hands us: /proc/net/netstat and /proc/net/snmp
// counter tables, sysctl files and the port range, and sock_diag netlink reply buffers. No
// crash, no read outside the buffer (ASan), no record without a whole message behind it.
//
// Input: the first byte picks the parser (even: /proc text, odd: netlink bytes).
#include "diag/proc_parse.hpp"
#include "diag/sock_diag.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <span>
#include <string_view>

using hoplens::fuzz::check;
using namespace hoplens::diag;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] % 2 == 0) {
        const auto parsed = parse_proc_net_counters(text);
        if (const auto* table = std::get_if<counter_table>(&parsed)) {
            for (const auto& [name, value] : *table) {
                check(name.find('.') != std::string::npos);
                (void)value;
            }
        }
        const auto value = parse_sysctl_text(text);
        if (const auto range = parse_port_range(value)) {
            check(range->first <= range->second);
        }
        return 0;
    }
    std::vector<socket_record> records;
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);
    const auto status = parse_sock_diag_messages(bytes, records);
    // Every record came from a whole message of at least a header and an inet_diag_msg.
    check(records.size() <= bytes.size() / 88);
    (void)status;
    return 0;
}
