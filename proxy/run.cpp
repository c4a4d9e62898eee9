#include "proxy/run.hpp"

#include "certs/certs.hpp"
#include "diag/diag.hpp"
#include "hoplens_version.hpp"
#include "proxy/access_log.hpp"
#include "proxy/ca_command.hpp"
#include "proxy/ca_store.hpp"
#include "proxy/capture_sink.hpp"
#include "proxy/leaf_key_pool_filler.hpp"
#include "proxy/listeners.hpp"
#include "proxy/services.hpp"
#include "proxy/session.hpp"
#include "proxy/tap.hpp"
#include "proxy/upstream.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <csignal>
#include <iostream>
#include <thread>

namespace hoplens::proxy {

namespace {

std::optional<spdlog::level::level_enum> log_level(const std::string& name) {
    const auto level = spdlog::level::from_str(name);
    if (level == spdlog::level::off && name != "off") {
        return std::nullopt;
    }
    return level;
}

// Everything a TLS context presents to clients besides its certificate: HTTP/1.1 by ALPN
// (RFC 7301: a client offering only h2 gets no ALPN and falls back), one TLS 1.3 session
// ticket per connection instead of OpenSSL's two (a client resumes with one; the second cost
// ~10% of the full-handshake rate), and the key log.
void configure_server_context(SSL_CTX* ctx) {
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(
        ctx,
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void*) {
            static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
            unsigned char* selected = nullptr;
            if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) ==
                OPENSSL_NPN_NEGOTIATED) {
                *out = selected;
                return SSL_TLSEXT_ERR_OK;
            }
            return SSL_TLSEXT_ERR_NOACK;
        },
        nullptr);
}

} // namespace

int run_proxy(const conf::run_options& options) {
    // OpenSSL writes to the sockets itself, without MSG_NOSIGNAL: a peer that went away must
    // be an EPIPE error on that connection, not the end of the process.
    std::signal(SIGPIPE, SIG_IGN);
    // The relay's 64 KiB buffers (read_buffer, OpenSSL's read-ahead, gather_bio) live only
    // while bytes flow, so each request frees ~200 KiB back to the top of the heap; with
    // glibc's 128 KiB trim threshold that was a brk() down and up per request.
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    // Setting a trim threshold also freezes glibc's mmap threshold at 128 KiB, which made
    // every capture buffer above it (1 MiB body captures, 256 KiB queue blocks, a HAR entry's
    // base64 text) a fresh mmap whose pages fault in on first touch, for every exchange.
    // From the heap they are reused: capture-on bulk went from ~23 to ~30 exchanges per CPU-s.
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    // Diagnostics go to stderr, the startup lines included: stdout is for data
    // (`--access-log -`), so that a pipe of the access log carries nothing else.
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
    if (auto level = log_level(options.log_level)) {
        spdlog::set_level(*level);
    }
    auto stored = ensure_ca(options.data_dir);
    if (auto* error = std::get_if<std::string>(&stored)) {
        std::cerr << "hoplens: " << *error << "\n";
        return 1;
    }
    auto& ca = std::get<stored_ca>(stored);
    for (const auto& w : ca.warnings) {
        spdlog::warn("{}", w);
    }
    std::cerr << "hoplens: CA certificate " << ca.files.cert.string()
              << (ca.created ? " (created now: trust it once in your clients)" : "") << std::endl;
    if (options.insecure_upstream) {
        spdlog::warn("--insecure-upstream: upstream certificates are NOT verified");
    }

    diag::proxy_counters counters;
    diag::listener_registry listener_registry;
    diag::upstream_registry upstream_registry;

    std::unique_ptr<capture_sink> sink;
    if (options.har || options.pcapng || options.keylog) {
        capture_sink_options copt;
        copt.har = options.har.value_or("");
        copt.pcapng = options.pcapng.value_or("");
        copt.keylog = options.keylog.value_or("");
        copt.version = hoplens::version;
        copt.body_cap_bytes = options.capture_body_limit;
        copt.queue_bytes = options.capture_queue;
        // Room for as many events as 1 KiB chunks fill the queue: small exchanges are not
        // refused for their count before the bytes run out.
        copt.queue_events = std::max(copt.queue_events, options.capture_queue / 1024);
        sink = std::make_unique<capture_sink>(copt, counters);
    }
    tap capture(sink && sink->enabled() ? sink.get() : nullptr);
    tap keylog(sink && sink->keylog_enabled() ? sink.get() : nullptr);
    access_log access(options.access_log);

    std::shared_ptr<certs::leaf_key_pool> rsa_pool;
    std::unique_ptr<leaf_key_pool_filler> filler;
    const auto leaf_type = to_certs_key_type(options.leaf_key_type);
    if (leaf_type != certs::key_type::ecdsa_p256) {
        rsa_pool = std::make_shared<certs::leaf_key_pool>(32);
        filler = std::make_unique<leaf_key_pool_filler>(rsa_pool, leaf_type);
    }
    certs::cache_options cache_opt;
    cache_opt.capacity = options.cert_cache_size;
    cache_opt.clock = [] { return std::chrono::system_clock::now(); };
    cache_opt.random = &certs::openssl_random_bytes;
    cache_opt.new_key = certs::make_leaf_key_source(leaf_type, rsa_pool);
    cache_opt.configure = [&keylog](SSL_CTX* ctx) {
        configure_server_context(ctx);
        install_keylog(ctx, keylog);
    };
    certs::server_context_cache leaves(ca.ca, cache_opt);

    std::unique_ptr<upstream_tls> upstream;
    try {
        upstream = std::make_unique<upstream_tls>(options);
    } catch (const std::exception& e) {
        std::cerr << "hoplens: " << e.what() << "\n";
        return 1;
    }

    install_keylog(upstream->context(), keylog);

    services svc{options, counters, *upstream, capture, access, {}, {}, {}};
    svc.leaf_for = [&](const std::string& name, const std::string& also,
                       std::string& why) -> std::shared_ptr<SSL_CTX> {
        auto got = leaves.get(name, also);
        counters.certs_minted_total.store(leaves.minted(), std::memory_order_relaxed);
        if (auto* e = std::get_if<certs::error>(&got)) {
            why = e->message;
            return nullptr;
        }
        return std::get<0>(std::move(got));
    };
    svc.note_upstream = [&](const sockaddr* address, std::size_t length) {
        upstream_registry.note_upstream(address, length);
    };

    std::vector<std::unique_ptr<worker>> workers;
    for (int i = 0; i < options.threads; ++i) {
        workers.push_back(std::make_unique<worker>(svc));
    }
    listeners accepting(svc, workers);
    try {
        accepting.open(listener_registry);
    } catch (const std::exception& e) {
        std::cerr << "hoplens: " << e.what() << "\n";
        return 1;
    }

    std::unique_ptr<diag::server> diag_server;
    if (options.diag) {
        diag::server_options dopt;
        dopt.bind = *options.diag;
        dopt.ca_pem = certs::cert_to_pem(ca.ca->cert.get());
        const auto der = certs::cert_to_der(ca.ca->cert.get());
        dopt.ca_der.assign(der.begin(), der.end());
        dopt.insecure_upstream = options.insecure_upstream;
        diag_server = std::make_unique<diag::server>(dopt, counters, listener_registry, upstream_registry);
        try {
            diag_server->start();
        } catch (const std::exception& e) {
            std::cerr << "hoplens: --diag: " << e.what() << "\n";
            return 1;
        }
        std::cerr << "hoplens: diagnostics on http://" << authority_text(host_port{dopt.bind.address, diag_server->port()})
                  << "/" << std::endl;
    }
    for (const auto& l : options.listens) {
        std::cerr << "hoplens: listening " << l.text << std::endl;
    }

    accepting.run_until_signal([&] {
        access.reopen();
        if (sink) {
            sink->reopen();
        }
    });

    if (diag_server) {
        diag_server->stop();
    }
    if (sink) {
        sink->stop(); // the files are complete and valid before exit
    }
    spdlog::info("stopped after {} connections", diag::read(counters.connections_total));
    return 0;
}

} // namespace hoplens::proxy
