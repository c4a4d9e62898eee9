// The pcapng's direct_append_file on a real file in the temp directory: what is appended
// arrives in order, whole blocks bypass the page cache (mincore sees none of them resident),
// the tail is in the file after flush(), and a write refused by the kernel (RLIMIT_FSIZE, as
// a full disk would) cuts the file back to the last flush and counts one error.
#include "proxy/direct_append_file.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace hoplens::proxy;
namespace fs = std::filesystem;

namespace {

struct temp_file {
    fs::path path = fs::temp_directory_path() /
                    ("hoplens-direct-" + std::to_string(::getpid()) + ".pcapng");
    ~temp_file() {
        fs::remove(path);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Bytes that differ from one offset to the next, so that a misplaced block shows.
std::string pattern(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = char((i * 131 + seed * 7 + i / 4096) & 0xff);
    }
    return s;
}

void append(direct_append_file& f, std::initializer_list<std::string_view> pieces) {
    std::vector<std::span<const std::byte>> spans;
    for (const auto p : pieces) {
        spans.push_back(std::as_bytes(std::span(p)));
    }
    f.append(spans);
}

// Pages of the file in the page cache.
std::size_t resident_pages(const fs::path& p) {
    const auto size = fs::file_size(p);
    if (size == 0) {
        return 0;
    }
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED);
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<unsigned char> in_core((size + page - 1) / page);
    REQUIRE(::mincore(map, size, in_core.data()) == 0);
    ::munmap(map, size);
    ::close(fd);
    std::size_t n = 0;
    for (const auto c : in_core) {
        n += c & 1;
    }
    return n;
}

} // namespace

TEST_CASE("appends arrive in order; whole blocks go around the page cache, the tail on flush") {
    temp_file t;
    hoplens::diag::proxy_counters counters;
    direct_append_file f(t.path, counters);
    f.open();
    if (!f.direct()) {
        MESSAGE("the temp directory's filesystem refuses O_DIRECT: page-cache path only");
    }
    // Odd sizes, a piece larger than the staging buffer, pieces that end inside a block.
    const std::string a = pattern(1, 1), b = pattern(4095, 2), c = pattern(5000, 3),
                      d = pattern((std::size_t{1} << 20) * 2 + 17, 4), e = pattern(333, 5);
    append(f, {a, b});
    append(f, {c});
    append(f, {d, e});
    const std::string all = a + b + c + d + e;

    if (f.direct()) {
        CHECK(resident_pages(t.path) == 0); // what the writer has written so far
    }
    f.flush();
    if (f.direct()) {
        CHECK(resident_pages(t.path) <= 1); // the tail's page only
    }
    CHECK(slurp(t.path) == all);

    // The next append rewrites the tail's block directly, then goes on.
    const std::string g = pattern(70000, 6);
    append(f, {g});
    f.close();
    CHECK(slurp(t.path) == all + g);
    CHECK(hoplens::diag::read(counters.capture_write_errors_total) == 0);

    f.open(); // SIGHUP: a fresh file
    append(f, {a});
    f.flush();
    CHECK(slurp(t.path) == a);
}

TEST_CASE("a refused write cuts the file back to the last flush, once counted, until reopened") {
    temp_file t;
    hoplens::diag::proxy_counters counters;
    direct_append_file f(t.path, counters);
    f.open();
    const std::string first = pattern(10000, 1);
    append(f, {first});
    f.flush();

    // RLIMIT_FSIZE refuses writes past 64 KiB as a full disk would refuse them (EFBIG, with
    // SIGXFSZ ignored).
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    rlimit small = old_limit;
    small.rlim_cur = 64 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string big = pattern(3 * 64 * 1024, 2);
    append(f, {big});
    append(f, {first}); // not written: the file is broken until reopened
    f.flush();
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    std::signal(SIGXFSZ, old_handler);

    CHECK(slurp(t.path) == first);
    CHECK(hoplens::diag::read(counters.capture_write_errors_total) == 1);

    f.open();
    append(f, {big});
    f.close();
    CHECK(slurp(t.path) == big);
}
