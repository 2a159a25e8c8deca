#pragma once
// The hot test of top-k selection: which of a chunk of scores beat the current k-th? Almost every
// chunk answers "none", so one vector compare per kScanWidth scores is most of the selection cost,
// and the few that pass are visited by their mask bits instead of score by score.
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace encore::kernels {

inline constexpr std::int64_t kScanWidth = 16;

// Portable reference: bit i set if scores[i] > threshold (a NaN score never is).
inline std::uint32_t greater_mask_scalar(const float* scores, float threshold) {
    std::uint32_t mask = 0;
    for (std::int64_t i = 0; i < kScanWidth; ++i) mask |= static_cast<std::uint32_t>(scores[i] > threshold) << i;
    return mask;
}

inline std::uint32_t greater_mask(const float* scores, float threshold) {
#if defined(__AVX512F__)
    // _CMP_GT_OQ: ordered, so NaN compares false as in the scalar path.
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(scores), _mm512_set1_ps(threshold), _CMP_GT_OQ);
#elif defined(__AVX__)
    const __m256 t = _mm256_set1_ps(threshold);
    const auto lo = static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores), t, _CMP_GT_OQ)));
    const auto hi = static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores + 8), t, _CMP_GT_OQ)));
    return lo | (hi << 8);
#else
    return greater_mask_scalar(scores, threshold);
#endif
}

}  // namespace encore::kernels
