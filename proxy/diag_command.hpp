#pragma once
// `hoplens diag [--port P ...] [--json]`: the host's accept-queue and TIME_WAIT report,
// with no proxy running. The report itself is diag::print_host_report.

#include "conf/conf.hpp"

namespace hoplens {

// Returns the exit status: 0, or 1 when the kernel cannot be read.
int run_diag_command(const conf::diag_options& options);

} // namespace hoplens
