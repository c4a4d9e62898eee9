#include "proxy/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace hoplens::proxy {

namespace {

// A file sink that reopens its path in place (SIGHUP, after logrotate moved the file). The
// logger is never replaced: workers write through it at any moment, and swapping the
// logger's pointer under them was a data race (a worker crashed under SIGHUPs, found by
// review); the sink's own mutex orders the reopen with the writes instead.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit reopenable_file_sink(std::string path)
        : path_(std::move(path)), file_(std::make_unique<spdlog::details::file_helper>()) {
        file_->open(path_);
    }
    // The new file is opened before the old one is let go: a path that cannot be opened
    // (its directory gone) keeps the log going to the old file, with one error line.
    void reopen() {
        auto fresh = std::make_unique<spdlog::details::file_helper>();
        try {
            fresh->open(path_);
        } catch (const spdlog::spdlog_ex& e) {
            spdlog::error("access log: cannot reopen {}: {}; still writing the old file", path_,
                          e.what());
            return;
        }
        std::lock_guard lock(mutex_);
        file_.swap(fresh);
    }

  private:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        file_->write(line);
    }
    void flush_() override {
        file_->flush();
    }

    std::string path_;
    std::unique_ptr<spdlog::details::file_helper> file_;
};

std::shared_ptr<spdlog::logger> make_logger(const std::string& target) {
    std::shared_ptr<spdlog::logger> logger;
    if (target == "-") {
        logger = spdlog::create_async<spdlog::sinks::stdout_sink_mt>("access");
    } else {
        logger = spdlog::create_async<reopenable_file_sink>("access", target);
    }
    // time client method url status bytes-in bytes-out upstream-ms
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v");
    logger->flush_on(spdlog::level::info);
    return logger;
}

} // namespace

access_log::access_log(const std::optional<std::string>& target) : target_(target) {
    if (target_) {
        spdlog::init_thread_pool(8192, 1);
        logger_ = make_logger(*target_);
    }
}

access_log::~access_log() {
    if (logger_) {
        logger_->flush();
        spdlog::drop("access");
    }
}

void access_log::write(const exchange_record& r) {
    if (!logger_) {
        return;
    }
    logger_->info("{} {} {} {} {} {} {:.1f}", r.client, r.method, r.url, r.status, r.request_bytes,
                  r.response_bytes, r.upstream_ms);
}

void access_log::reopen() {
    if (!logger_ || *target_ == "-") {
        return;
    }
    // Lines still queued for spdlog's thread go to the new file.
    std::static_pointer_cast<reopenable_file_sink>(logger_->sinks().front())->reopen();
}

} // namespace hoplens::proxy
