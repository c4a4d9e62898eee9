#include "capture/http1_reassembler.hpp"

#include "capture/http1_side_callbacks.hpp"
#include "capture/text_codec.hpp"

#include <llhttp.h>

namespace hoplens::capture {

std::string_view http_message::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) {
            return h.value;
        }
    }
    return {};
}

bool http_message::lists(std::string_view name, std::string_view token) const {
    for (const auto& h : headers) {
        if (!iequals(h.name, name)) {
            continue;
        }
        std::string_view rest = h.value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const std::string_view element = rest.substr(0, comma);
            if (iequals(trim_ows(element.substr(0, element.find(';'))), token)) {
                return true;
            }
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
    }
    return false;
}

http1_reassembler::http1_reassembler(const connection_info& info, std::size_t body_cap_bytes)
    : info_(info), body_cap_bytes_(body_cap_bytes), upstream_(info.upstream) {
    start_parsers();
}

void http1_reassembler::start_parsers() {
    const std::uint64_t request_offset = request_side_ ? request_side_->chunk_base : 0;
    const std::uint64_t response_offset = response_side_ ? response_side_->chunk_base : 0;
    request_side_ = std::make_unique<side>();
    response_side_ = std::make_unique<side>();
    for (auto* s : {request_side_.get(), response_side_.get()}) {
        s->owner = this;
    }
    request_side_->dir = direction::client_to_server;
    response_side_->dir = direction::server_to_client;
    request_side_->chunk_base = request_side_->message_start = request_offset;
    response_side_->chunk_base = response_side_->message_start = response_offset;
    side_callbacks::init(*request_side_, HTTP_REQUEST);
    side_callbacks::init(*response_side_, HTTP_RESPONSE);
}

http1_reassembler::~http1_reassembler() = default;

void http1_reassembler::attach(const endpoint& upstream, const connect_timings& timings) {
    upstream_ = upstream;
    fresh_timings_ = timings;
    // The relay attaches before each exchange's request, one exchange at a time: with no
    // exchange in flight both streams are between messages here. A side that stopped (bytes
    // lost from a full queue, a parse error, an upgrade the origin declined) starts over, so
    // that one exchange's trouble does not take the connection's later exchanges out of the
    // HAR. An exchange in flight means the relay sent its request again on a new upstream
    // connection (the pooled one had closed): the same exchange goes on (an upgrade request
    // waiting for its 101 among them). After an accepted upgrade no HTTP follows.
    const bool upgraded = websocket_ && websocket_->accepted();
    if (in_flight_.empty() && !upgraded &&
        (stopped_ || request_side_->done || response_side_->done)) {
        websocket_.reset();
        orphan_ = http_response{};
        response_is_orphan_ = false;
        stopped_ = false;
        start_parsers();
    }
}

void http1_reassembler::on_request_begin(time_point at) {
    exchange& x = in_flight_.emplace_back();
    x.connection = info_.id;
    x.scheme = info_.scheme;
    x.server_name = info_.server_name;
    x.server = upstream_;
    x.timings = fresh_timings_;
    fresh_timings_ = connect_timings{};
    x.request.first_byte = at;
}

http_message* http1_reassembler::current(direction dir) {
    if (dir == direction::client_to_server) {
        return &in_flight_.back().request;
    }
    if (!response_is_orphan_ && responses_started_ < in_flight_.size()) {
        return &in_flight_[responses_started_].response;
    }
    return &orphan_;
}

void http1_reassembler::settle() {
    while (!in_flight_.empty() && in_flight_.front().request.complete &&
           in_flight_.front().response.complete) {
        exchange& x = in_flight_.front();
        // No request follows an upgrade request, so the last one in flight is its answer.
        if (websocket_ && in_flight_.size() == 1) {
            if (x.response.status == 101) {
                websocket_->accept(std::move(x)); // recorded when the connection ends
            } else {
                websocket_.reset(); // refused: the client's bytes stay unparsed, as before
            }
        }
        if (!websocket_ || !websocket_->accepted()) {
            x.ended = x.response.last_byte;
            finished_.push_back(std::move(x));
        }
        in_flight_.pop_front();
        if (responses_started_ > 0) {
            --responses_started_;
        }
    }
}

namespace {

// Bookkeeping after a head or a message ended at stream offset `at_offset`.
template <typename Side, typename Current, typename Advance>
void after_pause(Side& s, std::uint64_t at_offset, Current&& current, Advance&& advance) {
    http_message* m = current();
    if (s.paused == Side::pause_reason::head_done) {
        m->head_bytes = at_offset - s.message_start;
        s.head_end = at_offset;
    } else if (s.paused == Side::pause_reason::message_done) {
        m->body_wire_bytes = m->head_complete ? at_offset - s.head_end : 0;
        s.message_start = at_offset;
        advance(m);
    }
    s.paused = Side::pause_reason::none;
}

} // namespace

void http1_reassembler::feed(direction dir, time_point at, std::string_view bytes) {
    side& s = dir == direction::client_to_server ? *request_side_ : *response_side_;
    if (stopped_) {
        return;
    }
    if (s.done) {
        if (websocket_) {
            websocket_->feed(dir, at, bytes);
        }
        return;
    }
    s.now = at;
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    auto advance = [&](http_message* m) {
        if (dir == direction::server_to_client) {
            if (s.interim) {
                // Interim 1xx (RFC 9110 15.2): the final response follows on the same exchange,
                // and its own first byte is where the wait for it ends (after a 100 Continue
                // the request body is still to be sent).
                static_cast<http_response&>(*m) = http_response{};
                s.interim = false;
            } else if (!response_is_orphan_ && responses_started_ < in_flight_.size()) {
                ++responses_started_;
            }
        }
        settle();
    };
    // After a pause the parser is run again even with no bytes left: the steps that follow
    // the end of a head (a message with no body completes there) consume no input.
    bool resumed = false;
    while (left > 0 || resumed) {
        resumed = false;
        const llhttp_errno_t rc = llhttp_execute(&s.parser, p, left);
        if (rc == HPE_OK) {
            break;
        }
        const char* pos = llhttp_get_error_pos(&s.parser);
        const auto used = static_cast<std::size_t>(pos - p);
        if (rc == HPE_PAUSED) {
            llhttp_resume(&s.parser);
            after_pause(
                s, s.chunk_base + static_cast<std::uint64_t>(pos - bytes.data()),
                [&] { return current(dir); }, advance);
            p = pos;
            left -= used;
            resumed = true;
            continue;
        }
        if (rc == HPE_PAUSED_UPGRADE) {
            s.done = true; // what follows is another protocol (RFC 9110 7.8)
            if (dir == direction::client_to_server && !in_flight_.empty() &&
                requests_websocket(in_flight_.back().request)) {
                websocket_.emplace(body_cap_bytes_);
            }
            if (websocket_) {
                websocket_->feed(dir, at, {pos, left - used});
            }
            break;
        }
        s.chunk_base += bytes.size();
        stop_parsing(at, std::string("HTTP/1 parse error: ") + llhttp_get_error_reason(&s.parser));
        return;
    }
    s.chunk_base += bytes.size();
}

void http1_reassembler::stop_parsing(time_point at, const std::string& why) {
    stopped_ = true;
    finish_websocket(at, why);
    for (exchange& x : in_flight_) {
        x.ended = at;
        if (x.problem.empty()) {
            x.problem = why;
        }
        finished_.push_back(std::move(x));
    }
    in_flight_.clear();
    responses_started_ = 0;
}

void http1_reassembler::abandon(time_point at, std::string why) {
    if (!stopped_) {
        stop_parsing(at, why);
    }
}

void http1_reassembler::close(time_point at, bool aborted) {
    if (stopped_) {
        return;
    }
    side& s = *response_side_;
    if (!aborted && !s.done && !in_flight_.empty()) {
        // A response delimited by the end of the connection (RFC 9112 6.3 item 8) ends here,
        // when the connection ended cleanly; cut off, its body may be short.
        s.finishing = true;
        s.now = at;
        if (llhttp_finish(&s.parser) == HPE_OK && s.paused != side::pause_reason::none) {
            after_pause(
                s, s.chunk_base, [&] { return current(direction::server_to_client); },
                [&](http_message*) {
                    ++responses_started_;
                    settle();
                });
        }
    }
    const std::string how = aborted ? "connection aborted" : "connection closed";
    // A WebSocket ends with its connection (RFC 6455 7.1.1); only a cut one is incomplete.
    finish_websocket(at, aborted ? how : std::string());
    for (exchange& x : in_flight_) {
        x.problem = how + (!x.request.complete   ? " before the request ended"
                           : !x.response.started ? " before a response"
                                                 : " before the response ended");
    }
    stop_parsing(at, {});
}

void http1_reassembler::finish_websocket(time_point at, const std::string& why) {
    if (websocket_ && websocket_->accepted()) {
        finished_.push_back(websocket_->finish(at, why));
    }
    websocket_.reset();
}

std::vector<exchange> http1_reassembler::take_finished() {
    std::vector<exchange> out;
    out.swap(finished_);
    return out;
}

} // namespace hoplens::capture
