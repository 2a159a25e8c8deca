#include "encore/kernels/score_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "encore/kernels/distance.hpp"
#include "encore/kernels/simd_reduce.hpp"

namespace encore::kernels {

PackedTargets::PackedTargets(const Matrix& T, int threads) : rows_(T.rows()), dim_(T.stride()) {
    const std::int64_t panels = (rows_ + kPanel - 1) / kPanel;
    data_.assign(static_cast<std::size_t>(panels * dim_ * kPanel), 0.0f);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows_ * dim_ >= (1 << 18))
    for (std::int64_t p = 0; p < panels; ++p) {
        float* out = data_.data() + p * dim_ * kPanel;
        const std::int64_t n = std::min(kPanel, rows_ - p * kPanel);
        for (std::int64_t l = 0; l < n; ++l) {
            const float* row = T.row(p * kPanel + l);
            for (std::int64_t j = 0; j < dim_; ++j) out[j * kPanel + l] = row[j];
        }
    }
}

// Portable: one panel at a time, the 16 lanes of each dimension step independent (vectorisable).
void score_block_portable(const float* Q, std::int64_t q_stride, std::int64_t qn, const PackedTargets& P,
                         std::int64_t t0, std::int64_t tn, float* scores, std::int64_t ld) {
    const std::int64_t dim = P.dim();
    for (std::int64_t p0 = 0; p0 < tn; p0 += kPanel) {
        const float* panel = P.panel((t0 + p0) / kPanel);
        const std::int64_t width = std::min(kPanel, tn - p0);
        for (std::int64_t q = 0; q < qn; ++q) {
            const float* qr = Q + q * q_stride;
            float acc[kPanel] = {};
            for (std::int64_t j = 0; j < dim; ++j) {
                const float v = qr[j];
                const float* t = panel + j * kPanel;
#pragma omp simd
                for (std::int64_t l = 0; l < kPanel; ++l) acc[l] = madd(v, t[l], acc[l]);
            }
            std::memcpy(scores + q * ld + p0, acc, static_cast<std::size_t>(width) * sizeof(float));
        }
    }
}

namespace {

#if defined(__AVX512F__)
// Writes an R x C-panel tile of scores; the last panel may be cut at width targets.
template <int R, int C>
inline void store_tile(const __m512 (&acc)[R][C], float* out, std::int64_t ld, std::int64_t width) {
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            const std::int64_t left = width - c * kPanel;
            if (left >= kPanel)
                _mm512_storeu_ps(out + r * ld + c * kPanel, acc[r][c]);
            else if (left > 0)
                _mm512_mask_storeu_ps(out + r * ld + c * kPanel, static_cast<__mmask16>((1u << left) - 1), acc[r][c]);
        }
}

// R query rows x C panels (16 C targets): R * C accumulators, per dimension C vector loads, R
// broadcasts and R * C FMAs. R = 6, C = 4 keeps 24 of the 32 registers busy.
template <int R, int C>
inline void micro(const float* Q, std::int64_t q_stride, const float* panel0, std::int64_t panel_stride,
                  std::int64_t dim, float* out, std::int64_t ld, std::int64_t width) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < dim; ++j) {
        __m512 t[C];
        for (int c = 0; c < C; ++c) t[c] = _mm512_loadu_ps(panel0 + c * panel_stride + j * kPanel);
        for (int r = 0; r < R; ++r) {
            const __m512 q = _mm512_set1_ps(Q[r * q_stride + j]);
            for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(q, t[c], acc[r][c]);
        }
    }
    store_tile<R, C>(acc, out, ld, width);
}

template <int C>
void rows_pass(const float* Q, std::int64_t q_stride, std::int64_t qn, const float* panel0, std::int64_t panel_stride,
               std::int64_t dim, float* out, std::int64_t ld, std::int64_t width) {
    std::int64_t q = 0;
    for (; q + 6 <= qn; q += 6) micro<6, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width);
    switch (qn - q) {
        case 5: micro<5, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width); break;
        case 4: micro<4, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width); break;
        case 3: micro<3, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width); break;
        case 2: micro<2, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width); break;
        case 1: micro<1, C>(Q + q * q_stride, q_stride, panel0, panel_stride, dim, out + q * ld, ld, width); break;
        default: break;
    }
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// Writes R rows of one panel's scores; a cut panel (width < 16) by masked stores.
// Writes R rows of one panel's scores (lanes 0-7 in lo, 8-15 in hi); a cut panel (width < 16) by
// masked stores.
template <int R>
inline void store_tile_avx2(const __m256 (&acc)[R][2], float* out, std::int64_t ld, std::int64_t width) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(width)), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(width) - 8), lane);
    for (int r = 0; r < R; ++r) {
        if (width >= kPanel) {
            _mm256_storeu_ps(out + r * ld, acc[r][0]);
            _mm256_storeu_ps(out + r * ld + 8, acc[r][1]);
        } else {
            _mm256_maskstore_ps(out + r * ld, m0, acc[r][0]);
            _mm256_maskstore_ps(out + r * ld + 8, m1, acc[r][1]);
        }
    }
}

// AVX2 (16 registers): R query rows x one panel (16 targets, two vectors): 2 R accumulators, per
// dimension two loads, R broadcasts and 2 R FMAs. R = 6 keeps 12 + 3 registers busy. Each lane is
// one FMA chain over the dimensions in order, as the contract requires. (Written as the AVX-512
// micro-kernel is: GCC 12 at -O3 kept storing the accumulators to the stack on every step when the
// broadcasts were _mm256_broadcast_ss from a pointer.)
template <int R>
inline void micro_avx2(const float* Q, std::int64_t q_stride, const float* panel, std::int64_t dim, float* out,
                       std::int64_t ld, std::int64_t width) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < 2; ++c) acc[r][c] = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < dim; ++j) {
        __m256 t[2];
        for (int c = 0; c < 2; ++c) t[c] = _mm256_loadu_ps(panel + j * kPanel + 8 * c);
        for (int r = 0; r < R; ++r) {
            const __m256 q = _mm256_set1_ps(Q[r * q_stride + j]);
            for (int c = 0; c < 2; ++c) acc[r][c] = _mm256_fmadd_ps(q, t[c], acc[r][c]);
        }
    }
    store_tile_avx2<R>(acc, out, ld, width);
}

void rows_pass_avx2(const float* Q, std::int64_t q_stride, std::int64_t qn, const float* panel, std::int64_t dim,
                    float* out, std::int64_t ld, std::int64_t width) {
    std::int64_t q = 0;
    for (; q + 6 <= qn; q += 6) micro_avx2<6>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width);
    switch (qn - q) {
        case 5: micro_avx2<5>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width); break;
        case 4: micro_avx2<4>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width); break;
        case 3: micro_avx2<3>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width); break;
        case 2: micro_avx2<2>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width); break;
        case 1: micro_avx2<1>(Q + q * q_stride, q_stride, panel, dim, out + q * ld, ld, width); break;
        default: break;
    }
}
#endif

}  // namespace

void score_block(const float* Q, std::int64_t q_stride, std::int64_t qn, const PackedTargets& P, std::int64_t t0,
                 std::int64_t tn, float* scores, std::int64_t ld) {
#if defined(__AVX512F__)
    const std::int64_t dim = P.dim(), panel_stride = dim * kPanel;
    // 64 targets (16 KB of panels at 64 dimensions) stay in L1 while every query row passes by.
    for (std::int64_t p0 = 0; p0 < tn; p0 += 4 * kPanel) {
        const float* panel0 = P.panel((t0 + p0) / kPanel);
        const std::int64_t width = std::min(4 * kPanel, tn - p0);
        float* out = scores + p0;
        switch ((width + kPanel - 1) / kPanel) {
            case 4: rows_pass<4>(Q, q_stride, qn, panel0, panel_stride, dim, out, ld, width); break;
            case 3: rows_pass<3>(Q, q_stride, qn, panel0, panel_stride, dim, out, ld, width); break;
            case 2: rows_pass<2>(Q, q_stride, qn, panel0, panel_stride, dim, out, ld, width); break;
            default: rows_pass<1>(Q, q_stride, qn, panel0, panel_stride, dim, out, ld, width); break;
        }
    }
#elif defined(__AVX2__) && defined(__FMA__)
    // One panel (16 targets, 4 KB at 64 dimensions) stays in L1 while every query row passes by.
    for (std::int64_t p0 = 0; p0 < tn; p0 += kPanel)
        rows_pass_avx2(Q, q_stride, qn, P.panel((t0 + p0) / kPanel), P.dim(), scores + p0, ld,
                       std::min(kPanel, tn - p0));
#else
    score_block_portable(Q, q_stride, qn, P, t0, tn, scores, ld);
#endif
}

}  // namespace encore::kernels

namespace encore::kernels {

std::uint16_t to_bf16(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

void score_rows(const float* q, const float* const* rows, std::int64_t n, std::int64_t dim, float* out) {
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float acc[8] = {};
        for (std::int64_t j = 0; j < dim; ++j) {
            const float v = q[j];
            for (int l = 0; l < 8; ++l) acc[l] = madd(v, rows[i + l][j], acc[l]);
        }
        for (int l = 0; l < 8; ++l) out[i + l] = acc[l];
    }
    for (; i < n; ++i) out[i] = score_one(q, rows[i], dim);
}

void score_contiguous(const float* q, const float* rows, std::int64_t stride, std::int64_t n, std::int64_t dim,
                      float* out) {
    std::int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (dim % 8 == 0) {
        for (; i + 8 <= n; i += 8) {
            const float* r = rows + i * stride;
            // Rows two groups ahead: the hardware prefetcher stops at 4 KB page boundaries (every
            // 16 rows of 64 floats), and a mapped model file sits in 4 KB pages.
            if (i + 24 <= n) prefetch_bytes(r + 16 * stride, static_cast<std::size_t>(8 * stride) * sizeof(float));
            __m256 a[8];
            for (int l = 0; l < 8; ++l) a[l] = _mm256_setzero_ps();
            for (std::int64_t j = 0; j < dim; j += 8) {
                const __m256 v = _mm256_loadu_ps(q + j);
                for (int l = 0; l < 8; ++l) a[l] = _mm256_fmadd_ps(v, _mm256_loadu_ps(r + l * stride + j), a[l]);
            }
            _mm256_storeu_ps(out + i, detail::reduce8(a));
        }
    }
#endif
    for (; i < n; ++i) out[i] = score_one(q, rows + i * stride, dim);
}

void score_contiguous_at(const float* q, const float* rows, std::int64_t stride, [[maybe_unused]] std::int64_t n,
                         std::int64_t dim, const std::int32_t* at, std::int64_t m, float* out) {
    std::int64_t k = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (dim % 8 == 0) {
        const std::int64_t grouped = n - n % 8;  // rows below take score_contiguous's vector path
        const float* r[8];
        std::int64_t slot[8];
        int g = 0;
        // Eight rows' lanes side by side, each lane exactly score_contiguous's accumulator for its row.
        auto flush = [&] {
            for (int l = g; l < 8; ++l) r[l] = r[0];  // padding lanes: scored, not written
            __m256 a[8];
            for (int l = 0; l < 8; ++l) a[l] = _mm256_setzero_ps();
            for (std::int64_t j = 0; j < dim; j += 8) {
                const __m256 v = _mm256_loadu_ps(q + j);
                for (int l = 0; l < 8; ++l) a[l] = _mm256_fmadd_ps(v, _mm256_loadu_ps(r[l] + j), a[l]);
            }
            alignas(32) float s[8];
            _mm256_store_ps(s, detail::reduce8(a));
            for (int l = 0; l < g; ++l) out[slot[l]] = s[l];
            g = 0;
        };
        // The rows are scattered over the matrix: fetch them well before they are scored.
        constexpr std::int64_t kAhead = 16;
        const auto row_bytes = static_cast<std::size_t>(dim) * sizeof(float);
        auto fetch = [&](std::int64_t i) {
            prefetch_bytes(rows + static_cast<std::int64_t>(at[i]) * stride, row_bytes);
        };
        for (std::int64_t i = 0; i < std::min(kAhead, m); ++i) fetch(i);
        for (; k < m; ++k) {
            if (k + kAhead < m) fetch(k + kAhead);
            const float* row = rows + static_cast<std::int64_t>(at[k]) * stride;
            if (at[k] >= grouped) {
                out[k] = score_one(q, row, dim);
                continue;
            }
            r[g] = row;
            slot[g] = k;
            if (++g == 8) flush();
        }
        if (g > 0) flush();
    }
#endif
    for (; k < m; ++k) out[k] = score_one(q, rows + static_cast<std::int64_t>(at[k]) * stride, dim);
}

Bf16Norms bf16_norms(const float* x, std::int64_t dim) {
    double a = 0, r = 0, e = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
        const std::uint32_t bits = static_cast<std::uint32_t>(to_bf16(x[j])) << 16;
        float xr;
        std::memcpy(&xr, &bits, sizeof xr);
        const double d = static_cast<double>(x[j]) - static_cast<double>(xr);  // exact in double
        a += static_cast<double>(x[j]) * x[j];
        r += static_cast<double>(xr) * xr;
        e += d * d;
    }
    return {std::sqrt(a), std::sqrt(r), std::sqrt(e)};
}

double bf16_error_bound(const Bf16Norms& q, const Bf16Norms& t) {
    const double bound = q.error * t.x + q.rounded * t.error + 0x1p-16 * (q.rounded * t.rounded + q.x * t.x) + 1e-27;
    return bound * (1 + 0x1p-20);  // the double arithmetic above rounds: stay above the true value
}

PackedTargetsBf16::PackedTargetsBf16(const Matrix& T, int threads) : rows_(T.rows()), dim_(T.stride()) {
    for (std::int64_t r = 0; r < rows_; ++r) {
        const Bf16Norms n = bf16_norms(T.row(r), dim_);
        max_norms_.x = std::max(max_norms_.x, n.x);
        max_norms_.rounded = std::max(max_norms_.rounded, n.rounded);
        max_norms_.error = std::max(max_norms_.error, n.error);
    }
    const std::int64_t panels = (rows_ + kPanel - 1) / kPanel, pairs = dim_ / 2;
    data_.assign(static_cast<std::size_t>(panels * pairs * kPanel), 0u);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows_ * dim_ >= (1 << 18))
    for (std::int64_t p = 0; p < panels; ++p) {
        std::uint32_t* out = data_.data() + p * pairs * kPanel;
        const std::int64_t n = std::min(kPanel, rows_ - p * kPanel);
        for (std::int64_t l = 0; l < n; ++l) {
            const float* row = T.row(p * kPanel + l);
            for (std::int64_t m = 0; m < pairs; ++m)
                out[m * kPanel + l] = static_cast<std::uint32_t>(to_bf16(row[2 * m])) |
                                      (static_cast<std::uint32_t>(to_bf16(row[2 * m + 1])) << 16);
        }
    }
}

void pack_queries_bf16(const float* Q, std::int64_t q_stride, std::int64_t qn, std::int64_t dim,
                       std::vector<std::uint32_t>& out) {
    const std::int64_t pairs = dim / 2;
    out.resize(static_cast<std::size_t>(qn * pairs));
    for (std::int64_t q = 0; q < qn; ++q)
        for (std::int64_t m = 0; m < pairs; ++m)
            out[static_cast<std::size_t>(q * pairs + m)] =
                static_cast<std::uint32_t>(to_bf16(Q[q * q_stride + 2 * m])) |
                (static_cast<std::uint32_t>(to_bf16(Q[q * q_stride + 2 * m + 1])) << 16);
}

#if defined(__AVX512BF16__)
namespace {

// As micro above, on pairs: each instruction multiplies 32 bf16 pairs into 16 float32 sums.
template <int R, int C>
inline void micro_bf16(const std::uint32_t* Q, std::int64_t pairs, const std::uint32_t* panel0,
                       std::int64_t panel_stride, float* out, std::int64_t ld, std::int64_t width) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (std::int64_t m = 0; m < pairs; ++m) {
        __m512bh t[C];
        for (int c = 0; c < C; ++c)
            t[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel0 + c * panel_stride + m * kPanel));
        for (int r = 0; r < R; ++r) {
            const __m512bh q = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(Q[r * pairs + m])));
            for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], q, t[c]);
        }
    }
    store_tile<R, C>(acc, out, ld, width);
}

template <int C>
void rows_pass_bf16(const std::uint32_t* Q, std::int64_t pairs, std::int64_t qn, const std::uint32_t* panel0,
                    std::int64_t panel_stride, float* out, std::int64_t ld, std::int64_t width) {
    std::int64_t q = 0;
    for (; q + 6 <= qn; q += 6) micro_bf16<6, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width);
    switch (qn - q) {
        case 5: micro_bf16<5, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width); break;
        case 4: micro_bf16<4, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width); break;
        case 3: micro_bf16<3, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width); break;
        case 2: micro_bf16<2, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width); break;
        case 1: micro_bf16<1, C>(Q + q * pairs, pairs, panel0, panel_stride, out + q * ld, ld, width); break;
        default: break;
    }
}

}  // namespace
#endif

bool has_bf16_scores() {
#if defined(__AVX512BF16__)
    return true;
#else
    return false;
#endif
}

void score_block_bf16([[maybe_unused]] const std::uint32_t* Q, [[maybe_unused]] std::int64_t qn,
                      [[maybe_unused]] const PackedTargetsBf16& P, [[maybe_unused]] std::int64_t t0,
                      [[maybe_unused]] std::int64_t tn, [[maybe_unused]] float* scores,
                      [[maybe_unused]] std::int64_t ld) {
#if defined(__AVX512BF16__)
    const std::int64_t pairs = P.dim() / 2, panel_stride = pairs * kPanel;
    for (std::int64_t p0 = 0; p0 < tn; p0 += 4 * kPanel) {
        const std::uint32_t* panel0 = P.panel((t0 + p0) / kPanel);
        const std::int64_t width = std::min(4 * kPanel, tn - p0);
        float* out = scores + p0;
        switch ((width + kPanel - 1) / kPanel) {
            case 4: rows_pass_bf16<4>(Q, pairs, qn, panel0, panel_stride, out, ld, width); break;
            case 3: rows_pass_bf16<3>(Q, pairs, qn, panel0, panel_stride, out, ld, width); break;
            case 2: rows_pass_bf16<2>(Q, pairs, qn, panel0, panel_stride, out, ld, width); break;
            default: rows_pass_bf16<1>(Q, pairs, qn, panel0, panel_stride, out, ld, width); break;
        }
    }
#endif
}

}  // namespace encore::kernels
