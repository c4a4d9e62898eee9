// The `ca` subcommands.
#include "proxy/ca_command.hpp"

#include "proxy/ca_store.hpp"

#include <cstdio>
#include <iostream>

namespace hoplens::proxy {

certs::key_type to_certs_key_type(conf::key_type type) {
    switch (type) {
    case conf::key_type::ecdsa_p256:
        return certs::key_type::ecdsa_p256;
    case conf::key_type::rsa_2048:
        return certs::key_type::rsa_2048;
    case conf::key_type::rsa_3072:
        return certs::key_type::rsa_3072;
    }
    return certs::key_type::ecdsa_p256;
}

int run_ca_init(const conf::ca_init_options& options) {
    const certs::key_type type = to_certs_key_type(options.type);
    auto created = create_ca_files(options.data_dir, type, options.force);
    if (const auto* problem = std::get_if<std::string>(&created)) {
        std::cerr << "hoplens: " << *problem << '\n';
        return 1;
    }
    const stored_ca& ca = std::get<stored_ca>(created);
    std::cout << "created a " << certs::to_string(type) << " CA: " << ca.files.cert.string()
              << " (key: " << ca.files.key.string() << ", mode 0600)\n";
    return 0;
}

int run_ca_export(const conf::ca_export_options& options) {
    auto loaded = load_ca_files(options.data_dir);
    if (const auto* problem = std::get_if<std::string>(&loaded)) {
        std::cerr << "hoplens: " << *problem << '\n';
        return 1;
    }
    const stored_ca& ca = std::get<stored_ca>(loaded);
    for (const std::string& warning : ca.warnings) {
        std::cerr << "hoplens: warning: " << warning << '\n';
    }
    std::string bytes;
    if (options.der) {
        const auto der = certs::cert_to_der(ca.ca->cert.get());
        bytes.assign(der.begin(), der.end());
    } else {
        bytes = certs::cert_to_pem(ca.ca->cert.get());
    }
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    if (!std::cout) {
        std::cerr << "hoplens: cannot write the certificate to stdout\n";
        return 1;
    }
    return 0;
}

} // namespace hoplens::proxy
