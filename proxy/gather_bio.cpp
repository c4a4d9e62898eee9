#include "proxy/gather_bio.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace hoplens::proxy {

namespace {

// Four full records and their overhead: one SSL_write of 64 KiB leaves in one send().
constexpr std::size_t gather_capacity = 4 * (16 * 1024 + 256) + 1024;
// Buffers kept per thread for reuse; more are freed.
constexpr std::size_t free_list_limit = 16;

using buffer_ptr = std::unique_ptr<char[]>;

std::vector<buffer_ptr>& free_list() {
    thread_local std::vector<buffer_ptr> list;
    return list;
}

struct gather_state {
    explicit gather_state(int socket_fd) : fd(socket_fd) {
    }

    int fd;
    buffer_ptr data; // null while nothing waits
    std::size_t begin = 0;
    std::size_t end = 0;

    std::size_t pending() const {
        return end - begin;
    }

    void append(const char* bytes, std::size_t n) {
        if (!data) {
            auto& list = free_list();
            if (list.empty()) {
                data = std::make_unique_for_overwrite<char[]>(gather_capacity);
            } else {
                data = std::move(list.back());
                list.pop_back();
            }
        }
        if (end + n > gather_capacity) { // a partial send left room only at the front
            std::memmove(data.get(), data.get() + begin, pending());
            end -= begin;
            begin = 0;
        }
        std::memcpy(data.get() + end, bytes, n);
        end += n;
    }

    void release() {
        begin = end = 0;
        if (data) {
            auto& list = free_list();
            if (list.size() < free_list_limit) {
                list.push_back(std::move(data));
            }
            data.reset();
        }
    }

    // Sends what is gathered. Returns 1 when all of it left, 0 when the socket would block
    // (retry flag set), -1 on an error (errno set).
    int send_all(BIO* bio, const char* bytes, std::size_t n, std::size_t& sent) {
        sent = 0;
        while (sent < n) {
            const ssize_t rc = ::send(fd, bytes + sent, n - sent, MSG_NOSIGNAL);
            if (rc > 0) {
                sent += static_cast<std::size_t>(rc);
                continue;
            }
            if (rc < 0 && errno == EINTR) {
                continue;
            }
            if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                BIO_set_retry_write(bio);
                return 0;
            }
            return -1;
        }
        return 1;
    }

    int flush(BIO* bio) {
        if (pending() == 0) {
            return 1;
        }
        std::size_t sent = 0;
        const int rc = send_all(bio, data.get() + begin, pending(), sent);
        begin += sent;
        if (rc == 1) {
            release();
        }
        return rc;
    }
};

gather_state* state_of(BIO* bio) {
    return static_cast<gather_state*>(BIO_get_data(bio));
}

int gather_write(BIO* bio, const char* bytes, std::size_t n, std::size_t* written) {
    BIO_clear_retry_flags(bio);
    auto* s = state_of(bio);
    if (s->pending() + n > gather_capacity) {
        const int rc = s->flush(bio);
        if (rc <= 0) {
            return 0;
        }
    }
    if (n > gather_capacity) { // larger than any TLS record; sent as it is
        std::size_t sent = 0;
        if (s->send_all(bio, bytes, n, sent) != 1 && sent == 0) {
            return 0; // retry flag set when the socket would block; errno set otherwise
        }
        BIO_clear_retry_flags(bio); // a partial write is a success; OpenSSL sends the rest
        *written = sent;
        return 1;
    }
    s->append(bytes, n);
    *written = n;
    return 1;
}

long gather_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    auto* s = state_of(bio);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        BIO_clear_retry_flags(bio);
        return s->flush(bio) == 1 ? 1 : 0;
    case BIO_CTRL_WPENDING:
        return static_cast<long>(s->pending());
    case BIO_CTRL_PENDING:
        return 0;
    default:
        return 0;
    }
}

int gather_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

int gather_destroy(BIO* bio) {
    auto* s = state_of(bio);
    if (s != nullptr) {
        s->release();
        delete s;
        BIO_set_data(bio, nullptr);
    }
    return 1;
}

BIO_METHOD* gather_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hoplens gather");
        BIO_meth_set_write_ex(m, gather_write);
        BIO_meth_set_ctrl(m, gather_ctrl);
        BIO_meth_set_create(m, gather_create);
        BIO_meth_set_destroy(m, gather_destroy);
        return m;
    }();
    return method;
}

} // namespace

BIO* make_gather_bio(int fd) {
    BIO* bio = BIO_new(gather_method());
    if (bio != nullptr) {
        BIO_set_data(bio, new gather_state(fd));
    }
    return bio;
}

} // namespace hoplens::proxy
