#pragma once
// Advice rules: pure functions from a snapshot to what to do about it. Each rule has a stable
// id (for alerting and tests), a level, and a message that names the number it saw and the
// fix: a sysctl and its value, or a hoplens option. Where the seed's notes are out of date for
// current kernels, the messages follow the kernel (see the comments in advice.cpp).

#include "diag/snapshot.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hoplens::diag {

enum class advice_level { info, warning, critical };

struct advice {
    std::string id;
    advice_level level = advice_level::info;
    std::string message;
    bool operator==(const advice&) const = default;
};

std::string_view to_string(advice_level level);

// Every rule over one snapshot, most severe first (stable order within a level).
std::vector<advice> advise(const snapshot& snap);

// The stable ids, for documentation and tests.
namespace advice_id {
inline constexpr std::string_view somaxconn_clamps_backlog = "somaxconn_clamps_backlog";
inline constexpr std::string_view accept_queue_full = "accept_queue_full";
inline constexpr std::string_view listen_overflows_rising = "listen_overflows_rising";
inline constexpr std::string_view syn_queue_overflow = "syn_queue_overflow";
inline constexpr std::string_view abort_on_overflow = "abort_on_overflow";
inline constexpr std::string_view outbound_time_wait_high = "outbound_time_wait_high";
inline constexpr std::string_view time_wait_near_max = "time_wait_near_max";
inline constexpr std::string_view tw_recycle_enabled = "tw_recycle_enabled";
inline constexpr std::string_view tw_recycle_absent = "tw_recycle_absent";
inline constexpr std::string_view timestamps_off = "timestamps_off";
inline constexpr std::string_view paws_rejects_rising = "paws_rejects_rising";
inline constexpr std::string_view listener_not_found = "listener_not_found";
inline constexpr std::string_view insecure_upstream = "insecure_upstream";
} // namespace advice_id

} // namespace hoplens::diag
