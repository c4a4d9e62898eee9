// --passthrough patterns: shell-style globs over host names.
#include "conf/conf.hpp"

namespace hoplens::conf {
namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

// Iterative with one backtrack point: linear in practice and never recursive, so a pattern
// like "*a*a*a*b" against a long name cannot blow the stack or take exponential time.
bool glob_match(std::string_view pattern, std::string_view host) {
    std::size_t p = 0;
    std::size_t h = 0;
    std::size_t star = std::string_view::npos;
    std::size_t star_h = 0;
    while (h < host.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(host[h]))) {
            ++p;
            ++h;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_h = h;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            h = ++star_h;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

} // namespace hoplens::conf
