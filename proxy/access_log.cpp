#include "proxy/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hoplens::proxy {

namespace {

std::shared_ptr<spdlog::logger> make_logger(const std::string& target) {
    std::shared_ptr<spdlog::logger> logger;
    if (target == "-") {
        logger = spdlog::create_async<spdlog::sinks::stdout_sink_mt>("access");
    } else {
        logger = spdlog::create_async<spdlog::sinks::basic_file_sink_mt>("access", target);
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
    logger_->flush();
    spdlog::drop("access");
    logger_ = make_logger(*target_);
}

} // namespace hoplens::proxy
