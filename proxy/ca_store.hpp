#pragma once
// The CA's files in the data dir: <data_dir>/ca.pem (certificate) and ca.key (private key,
// mode 0600). Each failure is one line of text that the caller prints before exiting 1.

#include "certs/certs.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace hoplens::proxy {

struct ca_files {
    std::filesystem::path cert; // <data_dir>/ca.pem
    std::filesystem::path key;  // <data_dir>/ca.key
};
ca_files ca_files_in(const std::filesystem::path& data_dir);

struct stored_ca {
    std::shared_ptr<const certs::ca> ca;
    ca_files files;
    bool created = false;              // ensure_ca made it just now
    std::vector<std::string> warnings; // e.g. a key file readable by group or others
};
// The CA, or one line saying what is wrong (names the file and the cause).
using ca_store_result = std::variant<stored_ca, std::string>;

// Loads both files. Errors: a file missing, unreadable (a directory, no permission),
// corrupt, a key that does not match the certificate, a certificate that is not a CA.
ca_store_result load_ca_files(const std::filesystem::path& data_dir);

// Creates a new CA. The data dir is created (mode 0700) if missing; a data dir that is a
// file or not writable is an error. Without `force` an existing ca.pem or ca.key is never
// replaced. ca.key is 0600 from its first byte; both files are written to temporary names,
// fsynced and renamed into place, so a failure leaves no half-written CA behind.
ca_store_result create_ca_files(const std::filesystem::path& data_dir, certs::key_type type,
                                bool force);

// For `hoplens run`: loads the CA, or creates an ecdsa-p256 one when neither file exists
// (then `created` is true and the caller prints the certificate's path).
ca_store_result ensure_ca(const std::filesystem::path& data_dir);

} // namespace hoplens::proxy
