// `hoplens diag` with no proxy running: the whole host (or some ports), counters sampled over
// a short window so that "rising" advice means "rising now".
#include "diag/collect.hpp"
#include "diag/diag.hpp"
#include "diag/render.hpp"

#include <ostream>
#include <thread>

namespace hoplens::diag {

int print_host_report(const std::vector<std::uint16_t>& ports, bool json,
                      std::chrono::milliseconds window, std::ostream& out, std::ostream& err) {
    auto baseline = read_kernel_counters();
    if (const auto* error = std::get_if<parse_error>(&baseline)) {
        err << "hoplens diag: " << error->what << '\n';
        return 1;
    }
    std::this_thread::sleep_for(window);
    auto reading = read_kernel();
    if (const auto* error = std::get_if<parse_error>(&reading)) {
        err << "hoplens diag: " << error->what << '\n';
        return 1;
    }
    report_scope scope;
    scope.ports = ports;
    auto snap = build_snapshot(std::get<kernel_reading>(reading),
                               std::get<counter_table>(baseline), scope);
    snap.window = "in the last " + std::to_string(window.count()) + " ms";
    const auto advice = advise(snap);
    out << (json ? render_json(snap, advice) : render_text(snap, advice));
    return 0;
}

} // namespace hoplens::diag
