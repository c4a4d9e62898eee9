// mint_bench: how fast certs/ mints leaves and serves cached contexts, on one core.
//
// Prints, for EC P-256 and RSA-2048 leaves: leaves minted per second (EC: fresh key + sign +
// DER; RSA: key from a pre-generated pool, so sign + DER), new server contexts per second
// (a whole cache miss) and cache hits per second; then ECDSA P-256 signs per second as
// `openssl speed ecdsap256` reports them in the same run, and the ratio of EC leaves to
// signs. All rates are per CPU second of the one thread. Crypto speed varies 2-3x between these machines from day to day; the ratio does not.
//
// Usage: mint_bench [seconds per figure, default 3]
#include "certs/certs.hpp"

#include <sched.h>
#include <time.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace hoplens::certs;
using bench_clock = std::chrono::steady_clock;

template <class T>
T must(result<T> r, const char* what) {
    if (auto* e = std::get_if<error>(&r)) {
        std::fprintf(stderr, "mint_bench: %s: %s\n", what, e->message.c_str());
        std::exit(1);
    }
    return std::move(std::get<T>(r));
}

double thread_cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Runs `op` for `seconds` of this thread's CPU time (at most 4x that in wall time) and
// returns operations per CPU second. CPU time, like `openssl speed` (its divisor is user CPU
// time unless -elapsed), so that other load on this shared machine does not skew the ratio.
template <class Op>
double per_second(double seconds, Op op) {
    const double cpu_start = thread_cpu_seconds();
    const auto wall_stop = bench_clock::now() + std::chrono::duration<double>(4 * seconds);
    std::size_t count = 0;
    double cpu = 0;
    do {
        for (int i = 0; i < 16; ++i) {
            op(count++);
        }
        cpu = thread_cpu_seconds() - cpu_start;
    } while (cpu < seconds && bench_clock::now() < wall_stop);
    return static_cast<double>(count) / cpu;
}

// `openssl speed -mr` prints "+F4:<index>:<bits>:<signs/s>:<verifies/s>" for ECDSA.
double openssl_ecdsa_p256_signs(double seconds) {
    const std::string command = "openssl speed -mr -seconds " +
                                std::to_string(static_cast<int>(seconds + 0.5)) +
                                " ecdsap256 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return 0;
    }
    double signs = 0;
    std::array<char, 512> line{};
    while (std::fgets(line.data(), line.size(), pipe) != nullptr) {
        unsigned index = 0, bits = 0;
        double sign_rate = 0, verify_rate = 0;
        if (std::sscanf(line.data(), "+F4:%u:%u:%lf:%lf", &index, &bits, &sign_rate,
                        &verify_rate) == 4 && bits == 256) {
            signs = sign_rate;
        }
    }
    ::pclose(pipe);
    return signs;
}

void random_serial(std::span<std::uint8_t> out) {
    openssl_random_bytes(out);
}

struct leaf_figures {
    double leaves = 0;
    double contexts = 0;
    double hits = 0;
};

leaf_figures measure(const std::shared_ptr<const ca>& issuer, key_type type, double seconds) {
    const time_point now = std::chrono::system_clock::now();
    std::vector<evp_pkey_ptr> pool; // RSA: pre-generated, as the proxy's pool is
    if (type != key_type::ecdsa_p256) {
        for (int i = 0; i < 4; ++i) {
            pool.push_back(must(generate_key(type), "generating a pool key"));
        }
    }
    const auto key_for = [&](std::size_t i) {
        if (pool.empty()) {
            return must(generate_key(type), "generating a leaf key");
        }
        EVP_PKEY_up_ref(pool[i % pool.size()].get());
        return evp_pkey_ptr(pool[i % pool.size()].get());
    };
    const host_name name = must(parse_host_name("bench.example.com"), "parsing the name");
    leaf_figures out;
    out.leaves = per_second(seconds, [&](std::size_t i) {
        const evp_pkey_ptr key = key_for(i);
        std::array<std::uint8_t, serial_bytes> serial{};
        random_serial(serial);
        const x509_ptr leaf = must(mint_leaf(*issuer, name, key.get(), now, serial), "minting");
        if (cert_to_der(leaf.get()).empty()) {
            std::exit(1);
        }
    });

    cache_options options;
    options.capacity = 64;
    options.clock = [now] { return now; };
    options.random = random_serial;
    options.new_key = [&, n = std::size_t{0}]() mutable { return key_for(n++); };
    server_context_cache cache(issuer, options);
    out.contexts = per_second(seconds, [&](std::size_t i) {
        must(cache.get("host" + std::to_string(i) + ".example.com"), "cache miss");
    });
    must(cache.get("hit.example.com"), "cache fill");
    out.hits = per_second(seconds, [&](std::size_t) { must(cache.get("hit.example.com"), "cache hit"); });
    return out;
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    if (seconds <= 0 || seconds > 60) {
        std::fprintf(stderr, "usage: mint_bench [seconds per figure, 0-60]\n");
        return 2;
    }
    // One core: this thread and the `openssl speed` child stay on the CPU we started on.
    cpu_set_t one{};
    CPU_ZERO(&one);
    const int cpu = sched_getcpu();
    CPU_SET(cpu < 0 ? 0 : cpu, &one);
    sched_setaffinity(0, sizeof one, &one);

    auto issuer = std::make_shared<const ca>(must(
        create_ca(key_type::ecdsa_p256, "mint-bench", std::chrono::system_clock::now(), random_serial),
        "creating the CA"));

    std::printf("mint_bench: %.1f s per figure, pinned to CPU %d, %s\n", seconds, cpu,
                OpenSSL_version(OPENSSL_VERSION));
    const double signs = openssl_ecdsa_p256_signs(seconds);
    std::printf("%-40s %12.0f /s\n", "openssl speed ecdsap256: signs", signs);
    const leaf_figures ec = measure(issuer, key_type::ecdsa_p256, seconds);
    std::printf("%-40s %12.0f /s\n", "EC P-256 leaves (fresh key+sign+DER)", ec.leaves);
    std::printf("%-40s %12.0f /s\n", "EC P-256 new contexts (cache miss)", ec.contexts);
    std::printf("%-40s %12.0f /s\n", "EC P-256 cache hits", ec.hits);
    const leaf_figures rsa = measure(issuer, key_type::rsa_2048, seconds);
    std::printf("%-40s %12.0f /s\n", "RSA-2048 leaves (pool key; sign+DER)", rsa.leaves);
    std::printf("%-40s %12.0f /s\n", "RSA-2048 new contexts (cache miss)", rsa.contexts);
    std::printf("%-40s %12.0f /s\n", "RSA-2048 cache hits", rsa.hits);
    const double ratio = signs > 0 ? ec.leaves / signs : 0;
    std::printf("%-40s %12.3f (target >= 0.20: %s)\n", "ratio EC leaves / ECDSA signs", ratio,
                ratio >= 0.20 ? "met" : "MISSED");
    return signs > 0 ? 0 : 1;
}
