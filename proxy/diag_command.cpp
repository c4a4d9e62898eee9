#include "proxy/diag_command.hpp"

#include "diag/diag.hpp"

#include <iostream>

namespace hoplens {

int run_diag_command(const conf::diag_options& options) {
    // One second between the two counter samples: long enough to see a queue that is
    // overflowing now, short enough for an interactive command.
    return diag::print_host_report(options.ports, options.json, std::chrono::seconds(1),
                                   std::cout, std::cerr);
}

} // namespace hoplens
