#pragma once
// The hot test of top-k selection: does any of a chunk of scores beat the current k-th? Almost every
// chunk answers no, so this one compare per kScanWidth scores is most of the selection cost.
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace encore::kernels {

inline constexpr std::int64_t kScanWidth = 16;

// Portable reference: true if any of scores[0, kScanWidth) > threshold (NaN never is).
inline bool any_greater_scalar(const float* scores, float threshold) {
    int any = 0;
    for (std::int64_t i = 0; i < kScanWidth; ++i) any |= scores[i] > threshold;
    return any != 0;
}

inline bool any_greater(const float* scores, float threshold) {
#if defined(__AVX512F__)
    // _CMP_GT_OQ: ordered, so a NaN score compares false like the scalar path.
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(scores), _mm512_set1_ps(threshold), _CMP_GT_OQ) != 0;
#elif defined(__AVX__)
    const __m256 t = _mm256_set1_ps(threshold);
    const __m256 a = _mm256_cmp_ps(_mm256_loadu_ps(scores), t, _CMP_GT_OQ);
    const __m256 b = _mm256_cmp_ps(_mm256_loadu_ps(scores + 8), t, _CMP_GT_OQ);
    return _mm256_movemask_ps(_mm256_or_ps(a, b)) != 0;
#else
    return any_greater_scalar(scores, threshold);
#endif
}

}  // namespace encore::kernels
