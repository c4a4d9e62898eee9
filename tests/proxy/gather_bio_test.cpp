// The gathering write BIO on a real non-blocking socket pair: records wait until the flush
// and leave in one send; a full socket is a retry, not a loss; a closed peer is an error
// with errno, as OpenSSL's own socket BIO reports it.
#include "proxy/gather_bio.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

using namespace hoplens::proxy;

namespace {

struct socket_pair {
    int ours = -1;
    int peer = -1;
    socket_pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        ours = fds[0];
        peer = fds[1];
        ::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK);
        ::fcntl(peer, F_SETFL, ::fcntl(peer, F_GETFL) | O_NONBLOCK);
    }
    ~socket_pair() {
        ::close(ours);
        if (peer >= 0) {
            ::close(peer);
        }
    }
    std::string drain() const {
        std::string got;
        char buf[65536];
        for (ssize_t n; (n = ::recv(peer, buf, sizeof buf, 0)) > 0;) {
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
};

struct bio_ptr {
    BIO* bio;
    ~bio_ptr() {
        BIO_free(bio);
    }
};

} // namespace

TEST_CASE("records wait in the BIO until the flush, then leave together in order") {
    socket_pair s;
    bio_ptr b{make_gather_bio(s.ours)};
    REQUIRE(BIO_write(b.bio, "first record,", 13) == 13);
    REQUIRE(BIO_write(b.bio, "second record", 13) == 13);
    CHECK(BIO_wpending(b.bio) == 26);
    CHECK(s.drain().empty());
    CHECK(BIO_flush(b.bio) == 1);
    CHECK(BIO_wpending(b.bio) == 0);
    CHECK(s.drain() == "first record,second record");
}

TEST_CASE("more than the gather buffer holds is sent on the way, nothing lost or reordered") {
    socket_pair s;
    bio_ptr b{make_gather_bio(s.ours)};
    std::string sent;
    std::string received;
    for (int i = 0; i < 12; ++i) { // 12 records of 16 KiB: three times the buffer
        const std::string record(16 * 1024, static_cast<char>('a' + i));
        REQUIRE(BIO_write(b.bio, record.data(), static_cast<int>(record.size())) ==
                static_cast<int>(record.size()));
        sent += record;
        received += s.drain();
    }
    CHECK(BIO_wpending(b.bio) > 0);
    REQUIRE(BIO_flush(b.bio) == 1);
    received += s.drain();
    CHECK(received == sent);
}

TEST_CASE("a write larger than the gather buffer goes out after what waits, in order") {
    socket_pair s;
    bio_ptr b{make_gather_bio(s.ours)};
    REQUIRE(BIO_write(b.bio, "head,", 5) == 5);
    const std::string big(100 * 1024, 'x');
    std::string received;
    std::size_t written = 0;
    while (written < big.size()) { // OpenSSL's way: repeat with the rest after a partial write
        const int n = BIO_write(b.bio, big.data() + written, static_cast<int>(big.size() - written));
        if (n <= 0) {
            REQUIRE(BIO_should_retry(b.bio));
            received += s.drain();
            continue;
        }
        written += static_cast<std::size_t>(n);
    }
    REQUIRE(BIO_flush(b.bio) == 1);
    received += s.drain();
    CHECK(received == "head," + big);
}

TEST_CASE("a full socket makes the flush a retry; after the peer reads, the flush completes") {
    socket_pair s;
    const int small = 4096;
    ::setsockopt(s.ours, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    bio_ptr b{make_gather_bio(s.ours)};
    std::string sent;
    std::string received;
    int retries = 0;
    for (int i = 0; i < 64; ++i) {
        const std::string record(8 * 1024, static_cast<char>('A' + i % 26));
        // The peer reads whenever the socket is full; the same write is then repeated.
        while (BIO_write(b.bio, record.data(), static_cast<int>(record.size())) <= 0) {
            REQUIRE(BIO_should_retry(b.bio));
            REQUIRE(BIO_should_write(b.bio));
            ++retries;
            received += s.drain();
        }
        sent += record;
    }
    CHECK(retries > 0);
    while (BIO_flush(b.bio) <= 0) {
        REQUIRE(BIO_should_retry(b.bio));
        received += s.drain();
    }
    received += s.drain();
    CHECK(received == sent);
}

TEST_CASE("a closed peer is an error with errno set, not a retry") {
    socket_pair s;
    bio_ptr b{make_gather_bio(s.ours)};
    ::close(s.peer);
    s.peer = -1;
    REQUIRE(BIO_write(b.bio, "lost", 4) == 4); // gathered: nothing is sent yet
    errno = 0;
    CHECK(BIO_flush(b.bio) <= 0);
    CHECK_FALSE(BIO_should_retry(b.bio));
    CHECK(errno == EPIPE);
}
