#pragma once
// async_wait_readable(socket, token): socket.async_wait(wait_read) without its epoll_ctl.
//
// OpenSSL reads the socket itself (SSL_set_rfd) and the stream waits only after its recv()
// said EAGAIN. Asio's async_wait is not speculative, so its epoll reactor re-arms the
// descriptor with EPOLL_CTL_MOD on every wait: 1.13 epoll_ctl per keep-alive request (strace
// -c), beside 2 sendto and 2.1 read. Asio registers every socket edge-triggered for input
// already; its own reads skip the re-arm because they are speculative: the reactor keeps a
// per-descriptor "try now" flag, set by every input edge and cleared when an operation finds
// nothing more, and a speculative operation runs at once while the flag is set. This wait is
// such an operation: it completes at once if an edge came since input was last found
// exhausted (then the caller's recv() finds the bytes, or says EAGAIN once more and the next
// wait queues), and otherwise queues for the next edge with no system call. Each completion
// counts as "exhausted": the caller waits again only after its recv() said EAGAIN.
//
// This uses Asio's detail API (Boost 1.81, epoll reactor); reactive_wait_op is the model.

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace hoplens::proxy {

namespace readable_wait_detail {

namespace detail = boost::asio::detail;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

template <typename Handler, typename IoExecutor>
class edge_wait_op : public detail::reactor_op {
  public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(edge_wait_op);

    edge_wait_op(Handler& handler, const IoExecutor& io_ex)
        : reactor_op(error_code(), &edge_wait_op::do_perform, &edge_wait_op::do_complete),
          handler_(std::move(handler)), work_(handler_, io_ex) {
    }

    static status do_perform(reactor_op*) {
        return done_and_exhausted;
    }

    static void do_complete(void* owner, detail::operation* base, const error_code&,
                            std::size_t) {
        auto* o = static_cast<edge_wait_op*>(base);
        ptr p = {std::addressof(o->handler_), o, o};
        detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
        detail::binder1<Handler, error_code> handler(o->handler_, o->ec_);
        p.h = std::addressof(handler.handler_);
        p.reset();
        if (owner != nullptr) {
            detail::fenced_block b(detail::fenced_block::half);
            w.complete(handler, handler.handler_);
        }
    }

  private:
    Handler handler_;
    detail::handler_work<Handler, IoExecutor> work_;
};

// Per-operation cancellation, as Asio's own socket operations have it.
class cancel_wait {
  public:
    cancel_wait(detail::epoll_reactor* r, detail::epoll_reactor::per_descriptor_data* d, int fd)
        : reactor_(r), data_(d), fd_(fd) {
    }
    void operator()(boost::asio::cancellation_type_t type) {
        using boost::asio::cancellation_type;
        if (!!(type & (cancellation_type::terminal | cancellation_type::partial |
                       cancellation_type::total))) {
            reactor_->cancel_ops_by_key(fd_, *data_, detail::epoll_reactor::read_op, this);
        }
    }

  private:
    detail::epoll_reactor* reactor_;
    detail::epoll_reactor::per_descriptor_data* data_;
    int fd_;
};

// basic_socket keeps its implementation protected: a pointer to that member, taken in a
// derived class, reads it from any socket.
struct socket_impl : tcp::socket {
    static auto& of(tcp::socket& s) {
        return s.*(&socket_impl::impl_);
    }
};

struct initiate_wait {
    template <typename Handler>
    void operator()(Handler&& handler, tcp::socket* socket) const {
        using handler_type = std::decay_t<Handler>;
        using executor_type = tcp::socket::executor_type;
        using op = edge_wait_op<handler_type, executor_type>;
        auto& io = socket_impl::of(*socket);
        auto& impl = io.get_implementation();
        auto& reactor =
            boost::asio::use_service<detail::epoll_reactor>(socket->get_executor().context());
        handler_type h(std::forward<Handler>(handler));
        const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(h);
        auto slot = boost::asio::get_associated_cancellation_slot(h);
        typename op::ptr p = {std::addressof(h), op::ptr::allocate(h), nullptr};
        p.p = new (p.v) op(h, io.get_executor());
        if (slot.is_connected()) {
            p.p->cancellation_key_ =
                &slot.template emplace<cancel_wait>(&reactor, &impl.reactor_data_, impl.socket_);
        }
        reactor.start_op(detail::epoll_reactor::read_op, impl.socket_, impl.reactor_data_, p.p,
                         is_continuation, true);
        p.v = p.p = nullptr;
    }
};

} // namespace readable_wait_detail

// Completes with success when the socket may have input (or an error or EOF to report), with
// operation_aborted when cancelled. Call it only after a recv() on the socket said EAGAIN:
// bytes that were there before it, their edge already taken, would not wake it.
template <typename CompletionToken>
auto async_wait_readable(boost::asio::ip::tcp::socket& socket, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        readable_wait_detail::initiate_wait{}, token, &socket);
}

} // namespace hoplens::proxy
