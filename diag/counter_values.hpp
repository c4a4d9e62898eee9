#pragma once
// proxy_counters as a name -> value list, read once (relaxed) for one report.

#include "diag/counters.hpp"
#include "diag/snapshot.hpp"

namespace hoplens::diag {

proxy_numbers counter_values(const proxy_counters& counters);

// proxy_counters fields whose value goes up and down (Prometheus gauges, not counters).
inline bool is_gauge(std::string_view counter_name) {
    return counter_name == "connections_active";
}

} // namespace hoplens::diag
