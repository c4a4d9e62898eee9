#pragma once
// The fuzz targets' assertion: a broken invariant is a crash, which libFuzzer saves as an
// input to replay (and then to commit as a seed).

#include <cstdlib>

namespace hoplens::fuzz {

inline void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

} // namespace hoplens::fuzz
