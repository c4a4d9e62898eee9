#pragma once
// --access-log FILE|-: one line per exchange, written by spdlog's own thread so that an event
// loop never waits on the disk.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace hoplens::proxy {

struct exchange_record {
    std::string client;   // address:port
    std::string method;
    std::string url;      // scheme://authority/path as the upstream saw it
    int status = 0;       // 0 when no response came
    std::uint64_t request_bytes = 0;
    std::uint64_t response_bytes = 0;
    double upstream_ms = 0; // from the request's last byte sent to the response's first byte
};

class access_log {
  public:
    explicit access_log(const std::optional<std::string>& target); // nullopt: disabled
    ~access_log();
    bool enabled() const {
        return logger_ != nullptr;
    }
    void write(const exchange_record& r);
    void reopen(); // SIGHUP

  private:
    std::shared_ptr<spdlog::logger> logger_;
    std::optional<std::string> target_;
};

} // namespace hoplens::proxy
