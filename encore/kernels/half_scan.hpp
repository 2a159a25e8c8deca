#pragma once
// The half-precision candidate scan of single-query exact top-k. One query against every row of a big
// target matrix is memory-bound: it streams the float32 rows. A copy of the targets in IEEE binary16
// (half the bytes; F16C / AVX-512 convert it to float32 in registers) gives approximate scores, each
// within a rigorous bound of the exact one; the rows whose approximate score could still reach the
// exact top k are then re-scored exactly from the float32 rows (retrieval/topk.cpp), so the results are
// the float32 pass's, scores bit for bit.
//
// The bound, for query q (float32, never rounded) and target row x with half copy x~ and e = x - x~:
//   q.x - q.x~ = q.e, |q.e| <= |q| |e|                       (Cauchy-Schwarz, exact values)
//   each float32 dot product (the scan's, the exact pass's; any summation order, every term through
//   at most dim <= 256 roundings) is within dim 2^-24 / (1 - dim 2^-24) sum |q_j y_j|
//   <= 2^-16 (1 + 2^-15) |q| |y| of its exact value, for y = x~ and y = x
//   flushed or gradual underflow: at most 2 dim 2^-126 <= 2^-117 over both paths
// so |scan score - exact path score| <= |q| c_x + 2^-117 with c_x = |e| + 2^-15 (|x~| + |x|). Each row
// stores c_x (computed in double from the stored halves, so whatever the rounding was) times 1 + 2^-6
// plus 2^-57, rounded up to float; with |q| >= 2^-50 the added 2^-57 |q| covers the 2^-117, and the
// 2^-6 slack, at least 2^-21 |q| |x|, covers the one rounding of the bound arithmetic below
// (fma(|q|, c, s): 2^-24 of a result below 4 |q| |x|; |e| <= |x| even where halves underflow). The
// upper and lower reach of a row are fma(scale, c, s) and fma(-scale, c, s) with scale = |q| rounded
// up (half_query_scale).
#include <cstdint>
#include <memory>
#include <vector>

#include "encore/data/matrix.hpp"
#include "encore/kernels/dense.hpp"

namespace encore::kernels {

inline constexpr std::int64_t kHalfPanel = 16;    // rows per panel of the half copy
inline constexpr std::int64_t kMaxHalfDim = 256;  // the bound's accumulation term assumes dim <= 256

// IEEE binary16 with round to nearest even (what F16C's conversion does); overflow gives infinity,
// NaN stays NaN. from_half is exact: every half is a float.
std::uint16_t to_half(float x);
float from_half(std::uint16_t h);

// Whether this build scans with vector conversions (F16C + FMA, or AVX-512F); otherwise half_scores
// runs the portable loop (correct, but slower than the float32 pass it would replace).
bool has_half_scan();

// A half-precision copy of a target matrix's rows in panels of 16 rows stored dimension-major (for each
// dimension j the 16 rows' halves side by side: one 32-byte load converts to a vector of 16 floats),
// with each row's bound factor c (see above). Rows past the last one are zero, with c = 0.
class HalfRows {
public:
    HalfRows() = default;
    HalfRows(const Matrix& T, int threads);

    std::int64_t rows() const { return rows_; }
    std::int64_t dim() const { return dim_; }
    // Every value finite, its half finite (|x| < 65520), and dim <= kMaxHalfDim: the bound holds.
    bool usable() const { return usable_; }
    // The largest row norm, of the rows or their halves.
    double max_norm() const { return max_norm_; }
    const std::uint16_t* panel(std::int64_t p) const { return data_.get() + p * dim_ * kHalfPanel; }
    // Per row bound factor c, padded with zeros to whole panels.
    const float* bounds() const { return bounds_.data(); }

private:
    std::shared_ptr<std::uint16_t> data_;
    std::vector<float> bounds_;
    std::int64_t rows_ = 0, dim_ = 0;
    double max_norm_ = 0;
    bool usable_ = false;
};

// |q| rounded up, for the bounds of H's rows; 0 where the bound does not cover this query (not finite,
// |q| < 2^-50, or scores that could come near float overflow): then scan in float32.
float half_query_scale(const float* q, const HalfRows& H);

// Approximate scores of rows [r0, r0 + n) of H (r0 a multiple of 16) into out[0, n rounded up to 16):
// each one fused multiply-add chain over the dimensions in order, q float32 and the halves converted
// exactly, so every path (AVX-512, AVX2 + F16C, portable) gives the same floats.
void half_scores(const float* q, const HalfRows& H, std::int64_t r0, std::int64_t n, float* out);
void half_scores_portable(const float* q, const HalfRows& H, std::int64_t r0, std::int64_t n, float* out);

// The reach of a row with approximate score s and bound factor c: its exact score lies in
// [half_lower, half_upper].
inline float half_upper(float s, float c, float scale) { return madd(scale, c, s); }
inline float half_lower(float s, float c, float scale) { return madd(-scale, c, s); }

// Bit i set where half_upper(s[i], c[i], scale) >= tau, for 16 rows.
std::uint32_t reach_mask_scalar(const float* s, const float* c, float scale, float tau);
inline std::uint32_t reach_mask(const float* s, const float* c, float scale, float tau);

}  // namespace encore::kernels

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace encore::kernels {

inline std::uint32_t reach_mask(const float* s, const float* c, float scale, float tau) {
#if defined(__AVX512F__)
    const __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(scale), _mm512_loadu_ps(c), _mm512_loadu_ps(s));
    return _mm512_cmp_ps_mask(u, _mm512_set1_ps(tau), _CMP_GE_OQ);
#elif defined(__AVX2__) && defined(__FMA__)
    const __m256 sc = _mm256_set1_ps(scale), t = _mm256_set1_ps(tau);
    const __m256 u0 = _mm256_fmadd_ps(sc, _mm256_loadu_ps(c), _mm256_loadu_ps(s));
    const __m256 u1 = _mm256_fmadd_ps(sc, _mm256_loadu_ps(c + 8), _mm256_loadu_ps(s + 8));
    const auto lo = static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(u0, t, _CMP_GE_OQ)));
    const auto hi = static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(u1, t, _CMP_GE_OQ)));
    return lo | (hi << 8);
#else
    return reach_mask_scalar(s, c, scale, tau);
#endif
}

}  // namespace encore::kernels
