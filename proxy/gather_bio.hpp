#pragma once
// A write BIO for a TLS connection on a non-blocking socket that gathers the records of one
// SSL_write (and of a handshake flight) and sends them with one send() at the flush, instead
// of OpenSSL's one write() per 16 KiB record (PERF-NOTES "Bytes": syscalls per record are
// what the bulk path pays beside AES).
//
// Memory: the gather buffer exists only while records wait in it; an idle connection holds
// none. Buffers are reused from a small per-thread free list, since each worker thread runs
// its own connections.
//
// Flow control is OpenSSL's own: when the socket would block, the BIO sets its retry flag
// and SSL_get_error reports SSL_ERROR_WANT_WRITE (or BIO_flush returns <= 0 with
// BIO_should_retry); a hard error leaves errno set, as the socket BIO does.

#include <openssl/bio.h>

namespace hoplens::proxy {

// A BIO that writes to `fd` (not owned; the caller closes it).
BIO* make_gather_bio(int fd);

} // namespace hoplens::proxy
