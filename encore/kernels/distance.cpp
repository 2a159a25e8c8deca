#include "encore/kernels/distance.hpp"

namespace encore::kernels {

const char* distance_isa() {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2";
#else
    return "scalar";
#endif
}

}  // namespace encore::kernels
