// hoplens: the command line's entry point. Parsing lives in conf/, each command in proxy/.

#include "conf/conf.hpp"
#include "diag/diag.hpp"
#include "hoplens_version.hpp"
#include "proxy/ca_command.hpp"
#include "proxy/run.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>

#include <iostream>

namespace {

template <class... F> struct overloaded : F... {
    using F::operator()...;
};
template <class... F> overloaded(F...) -> overloaded<F...>; // clang before 17 needs the guide

int print_version() {
    std::cout << "hoplens " << hoplens::version << "\n"
              << "OpenSSL " << OpenSSL_version(OPENSSL_VERSION_STRING) << " (built with "
              << OPENSSL_VERSION_TEXT << ")\n"
              << "Boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
              << BOOST_VERSION % 100 << "\n";
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    using namespace hoplens;
    const auto command = conf::parse_command_line(argc, argv, conf::environment_from_process());
    return std::visit(
        overloaded{
            [](const conf::usage_error& e) {
                std::cerr << "hoplens: " << e.message << "\n";
                return 2;
            },
            [](const conf::show_help& h) {
                std::cout << h.text;
                return 0;
            },
            [](const conf::show_version&) { return print_version(); },
            [](const conf::ca_init_options& o) { return proxy::run_ca_init(o); },
            [](const conf::ca_export_options& o) { return proxy::run_ca_export(o); },
            [](const conf::diag_options& o) {
                return diag::print_host_report(o.ports, o.json, std::chrono::milliseconds(1000),
                                               std::cout, std::cerr);
            },
            [](const conf::run_options& o) { return proxy::run_proxy(o); },
        },
        command);
}
