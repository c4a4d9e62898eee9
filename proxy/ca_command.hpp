#pragma once
// `hoplens ca init` and `hoplens ca export`: each returns the process exit status
// (0 ok, 1 runtime error after one line on stderr).

#include "certs/certs.hpp"
#include "conf/conf.hpp"

namespace hoplens::proxy {

int run_ca_init(const conf::ca_init_options& options);
int run_ca_export(const conf::ca_export_options& options);

certs::key_type to_certs_key_type(conf::key_type type);

} // namespace hoplens::proxy
