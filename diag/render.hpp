#pragma once
// A snapshot and its advice in the four shapes users read: /diag JSON (DESIGN.md's keys,
// exactly), /metrics Prometheus text, the / HTML page, and `hoplens diag`'s text screen.
// Pure: values in, text out.

#include "diag/advice.hpp"
#include "diag/snapshot.hpp"

#include <string>
#include <vector>

namespace hoplens::diag {

std::string render_json(const snapshot& snap, const std::vector<advice>& advice);
std::string render_metrics(const snapshot& snap, const std::vector<advice>& advice);
// refresh_seconds: the page reloads itself (meta refresh) that often.
std::string render_html(const snapshot& snap, const std::vector<advice>& advice,
                        int refresh_seconds);
std::string render_text(const snapshot& snap, const std::vector<advice>& advice);

} // namespace hoplens::diag
