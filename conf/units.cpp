// Durations ("10s") and sizes ("1MiB") as the timeout and limit options take them.
#include "conf/conf.hpp"
#include "conf/text.hpp"

#include <array>
#include <utility>

namespace hoplens::conf {
namespace {

struct unit {
    std::string_view suffix;
    std::uint64_t scale;
};

// Longest suffixes first so that "ms" is not read as "m".
constexpr std::array<unit, 4> duration_units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
constexpr std::array<unit, 7> size_units{{{"KiB", 1ull << 10},
                                          {"MiB", 1ull << 20},
                                          {"GiB", 1ull << 30},
                                          {"kB", 1000},
                                          {"MB", 1000'000},
                                          {"GB", 1000'000'000},
                                          {"B", 1}}};

// Splits "123unit" into the number and the unit's scale; nullopt when either is bad or the
// product exceeds `max`.
template <std::size_t N>
std::optional<std::uint64_t> scaled(std::string_view text, const std::array<unit, N>& units,
                                    std::optional<std::uint64_t> bare_scale, std::uint64_t max) {
    const auto digits_end = text.find_first_not_of("0123456789");
    const auto number_text = text.substr(0, digits_end);
    const auto suffix =
        digits_end == std::string_view::npos ? std::string_view{} : text.substr(digits_end);
    std::optional<std::uint64_t> scale = suffix.empty() ? bare_scale : std::nullopt;
    for (const auto& u : units) {
        if (suffix == u.suffix) {
            scale = u.scale;
        }
    }
    const auto number = detail::parse_unsigned(number_text, max);
    if (!scale || !number || *number > max / *scale) {
        return std::nullopt;
    }
    return *number * *scale;
}

} // namespace

std::variant<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
    // A week bounds every timeout hoplens has and keeps the arithmetic far from overflow.
    constexpr std::uint64_t max_ms = 7ull * 24 * 3'600'000;
    const auto ms = scaled(text, duration_units, std::nullopt, max_ms);
    if (!ms) {
        return "bad duration '" + std::string(text) +
               "' (expected a whole number and a unit: ms, s, m or h, as in 10s; at most 168h)";
    }
    return std::chrono::milliseconds(*ms);
}

std::variant<std::size_t, std::string> parse_size(std::string_view text) {
    constexpr std::uint64_t max_bytes = 1ull << 40;
    const auto bytes = scaled(text, size_units, 1, max_bytes);
    if (!bytes) {
        return "bad size '" + std::string(text) +
               "' (expected a whole number of bytes, optionally with KiB, MiB, GiB, kB, MB or GB)";
    }
    return static_cast<std::size_t>(*bytes);
}

std::string format_duration(std::chrono::milliseconds value) {
    const auto ms = static_cast<std::uint64_t>(value.count());
    for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
        if (ms != 0 && ms % it->scale == 0) {
            return std::to_string(ms / it->scale) + std::string(it->suffix);
        }
    }
    return std::to_string(ms) + "ms";
}

std::string format_size(std::size_t bytes) {
    for (std::string_view suffix : {"GiB", "MiB", "KiB"}) {
        for (const auto& u : size_units) {
            if (u.suffix == suffix && bytes != 0 && bytes % u.scale == 0) {
                return std::to_string(bytes / u.scale) + std::string(suffix);
            }
        }
    }
    return std::to_string(bytes);
}

} // namespace hoplens::conf
