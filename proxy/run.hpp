#pragma once
// `hoplens [run]`: the proxy itself, until SIGTERM/SIGINT. Returns the exit status.

#include "conf/conf.hpp"

namespace hoplens::proxy {

int run_proxy(const conf::run_options& options);

} // namespace hoplens::proxy
