#pragma once
// Horizontal sums of sixteen AVX-512 vectors (reduce16, AVX-512 builds) or eight AVX2 vectors (reduce8,
// AVX2 builds) at once: lane r of the result is the sum of d[r]'s lanes. A transpose-and-add tree (45 shuffles/adds for 16 vectors) instead of 16
// separate reductions (about 8 dependent operations each). Used where many short dot products are
// computed together: the ALS passes, batches of ANN candidates, few-query exact scoring.
#if defined(__AVX2__)
#include <immintrin.h>

namespace encore::kernels::detail {

inline __m256 reduce8(const __m256* d) {
    const __m256 h01 = _mm256_hadd_ps(d[0], d[1]), h23 = _mm256_hadd_ps(d[2], d[3]);
    const __m256 h45 = _mm256_hadd_ps(d[4], d[5]), h67 = _mm256_hadd_ps(d[6], d[7]);
    // Each 128-bit half of h0123 holds the partial sums of rows 0..3 over that half's lanes.
    const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);
    return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

}  // namespace encore::kernels::detail
#endif

#if defined(__AVX512F__)
namespace encore::kernels::detail {

inline __m512 reduce16(const __m512* d) {
    __m512 t[8];
    for (int q = 0; q < 8; ++q)
        t[q] = _mm512_add_ps(_mm512_unpacklo_ps(d[2 * q], d[2 * q + 1]), _mm512_unpackhi_ps(d[2 * q], d[2 * q + 1]));
    __m512 u[4];
    for (int q = 0; q < 4; ++q)
        u[q] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * q], t[2 * q + 1], 0x44), _mm512_shuffle_ps(t[2 * q], t[2 * q + 1], 0xEE));
    // u[q]'s 128-bit lane l holds the partial sums of rows 4q..4q+3 over lane l: add the four lanes.
    const __m512 x = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88), _mm512_shuffle_f32x4(u[0], u[1], 0xDD));
    const __m512 y = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88), _mm512_shuffle_f32x4(u[2], u[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
}

}  // namespace encore::kernels::detail
#endif
