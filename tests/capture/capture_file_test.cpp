// proxy/capture_file.hpp's output_file on a real file in the temp directory: a growing
// capture file has its blocks allocated ahead of the data (the size still says what was
// written), and closing it gives back the blocks it did not use.
#include "proxy/capture_file.hpp"

#include "capture_test_util.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using hoplens::capture::test::slurp;

struct temp_file {
    fs::path path = fs::temp_directory_path() /
                    ("hoplens-capture-file-" + std::to_string(::getpid()) + ".pcapng");
    ~temp_file() {
        fs::remove(path);
    }
};

struct file_stat {
    std::uint64_t size;
    std::uint64_t allocated; // bytes of blocks
};

file_stat stat_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return {std::uint64_t(st.st_size), std::uint64_t(st.st_blocks) * 512};
}

// Whether the temp directory's filesystem takes FALLOC_FL_KEEP_SIZE at all.
bool can_preallocate(const fs::path& dir) {
    const fs::path probe = dir / ("hoplens-falloc-probe-" + std::to_string(::getpid()));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const bool ok = fd >= 0 && ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    if (fd >= 0) {
        ::close(fd);
    }
    fs::remove(probe);
    return ok;
}

// How many of the pages of [from, from + length) of p are in the page cache (mincore).
std::size_t cached_pages(const fs::path& p, std::size_t from, std::size_t length) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, off_t(from));
    REQUIRE(map != MAP_FAILED);
    const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((length + page - 1) / page);
    REQUIRE(::mincore(map, length, resident.data()) == 0);
    ::munmap(map, length);
    ::close(fd);
    std::size_t n = 0;
    for (const unsigned char r : resident) {
        n += r & 1;
    }
    return n;
}

bool in_memory_filesystem(const fs::path& dir) {
    struct statfs fs {};
    REQUIRE(::statfs(dir.c_str(), &fs) == 0);
    return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

void sync_to_disk(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::fdatasync(fd) == 0);
    ::close(fd);
}

} // namespace

TEST_CASE("a growing capture file is allocated ahead of its data; close gives back the rest") {
    temp_file t;
    if (!can_preallocate(t.path.parent_path())) {
        MESSAGE("the temp directory's filesystem refuses fallocate: nothing to check");
        return;
    }
    hoplens::diag::proxy_counters counters;
    hoplens::proxy::output_file f(t.path, false, counters);
    f.open();
    const std::string block(100 * 1024, 'x');
    f.write(block);
    auto s = stat_of(t.path);
    CHECK(s.size == block.size());
    CHECK(s.allocated >= 16 * 1024 * 1024);

    f.write(block, 50); // a positioned rewrite inside the file grows nothing
    f.write(block);
    CHECK(stat_of(t.path).size == 50 + 2 * block.size());

    f.close();
    s = stat_of(t.path);
    CHECK(s.size == 50 + 2 * block.size());
    CHECK(s.allocated < 1024 * 1024);
    CHECK(slurp(t.path) == std::string(50, 'x') + block + block);
    CHECK(hoplens::diag::read(counters.capture_write_errors_total) == 0);
}

TEST_CASE("a growing capture file leaves the page cache once it is on the disk") {
    temp_file t;
    hoplens::diag::proxy_counters counters;
    hoplens::proxy::write_behind behind;
    hoplens::proxy::output_file f(t.path, false, counters, &behind);
    f.open();
    constexpr std::size_t mib = 1024 * 1024;
    const std::string step(8 * mib, 'p');
    for (int i = 0; i < 3; ++i) {
        f.write(step);
    }
    sync_to_disk(t.path); // what the kernel's writeback, started by each step, does in time
    f.write(step);
    behind.wait_idle();
    if (in_memory_filesystem(t.path.parent_path())) {
        MESSAGE("the temp directory is in memory: its pages have no disk to leave for");
    } else {
        CHECK(cached_pages(t.path, 0, 16 * mib) == 0); // the first two steps
    }
    f.close();
    CHECK(stat_of(t.path).size == 4 * step.size());
    CHECK(slurp(t.path) == step + step + step + step);
    CHECK(hoplens::diag::read(counters.capture_write_errors_total) == 0);
}
