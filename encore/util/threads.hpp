#pragma once
// Thread count handling: every parallel function takes its thread count as an option (0 = all cores).
#include <omp.h>

namespace encore {

inline int resolve_threads(int threads) {
    return threads > 0 ? threads : omp_get_num_procs();
}

}  // namespace encore
