#include "encore/kernels/als_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace encore::kernels {

void gather_rows(const float* src, std::int64_t s, const std::int32_t* idx, std::int64_t n, float* dst) {
    // The rows are scattered over a matrix far bigger than cache: ask for a few rows ahead so the
    // loads overlap instead of stalling one after another.
    constexpr std::int64_t kAhead = 16;
    for (std::int64_t i = 0; i < n; ++i) {
        if (i + kAhead < n) prefetch_rows(src, s, idx + i + kAhead, 1);
        copy(src + static_cast<std::int64_t>(idx[i]) * s, dst + i * s, s);
    }
}

void prefetch_rows([[maybe_unused]] const float* src, [[maybe_unused]] std::int64_t s,
                   [[maybe_unused]] const std::int32_t* idx, [[maybe_unused]] std::int64_t n) {
#if defined(__GNUC__)
    const std::int64_t bytes = s * static_cast<std::int64_t>(sizeof(float));
    for (std::int64_t i = 0; i < n; ++i) {
        const char* row = reinterpret_cast<const char*>(src + static_cast<std::int64_t>(idx[i]) * s);
        for (std::int64_t l = 0; l < bytes; l += 64) __builtin_prefetch(row + l, 0, 3);
    }
#endif
}

namespace {

// Portable version: any s. The dot products are plain loops (no `omp simd reduction`: GCC
// lowers a multi-variable simd reduction to scalar adds through the stack, which was the
// measured bottleneck of this pass).
void rank1_pass_generic(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                        float wscale, const float* v, float* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        const float c = (a ? a[i] : 0.0f) + wscale * w[i] * dot(g, v, s);
        axpy(c, g, out, s);
    }
}

#if defined(__AVX512F__)
// s a multiple of 16. Four rows at a time: four independent dot products hide each other's
// reduction latency, and out is loaded and stored once per four rows.
void rank1_pass_avx512(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                       float wscale, const float* v, float* out) {
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* g0 = G + i * s;
        const float* g1 = g0 + s;
        const float* g2 = g1 + s;
        const float* g3 = g2 + s;
        __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps(), d2 = _mm512_setzero_ps(), d3 = _mm512_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) {
            __m512 vj = _mm512_loadu_ps(v + j);
            d0 = _mm512_fmadd_ps(_mm512_loadu_ps(g0 + j), vj, d0);
            d1 = _mm512_fmadd_ps(_mm512_loadu_ps(g1 + j), vj, d1);
            d2 = _mm512_fmadd_ps(_mm512_loadu_ps(g2 + j), vj, d2);
            d3 = _mm512_fmadd_ps(_mm512_loadu_ps(g3 + j), vj, d3);
        }
        const __m512 c0 = _mm512_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * _mm512_reduce_add_ps(d0));
        const __m512 c1 = _mm512_set1_ps((a ? a[i + 1] : 0.0f) + wscale * w[i + 1] * _mm512_reduce_add_ps(d1));
        const __m512 c2 = _mm512_set1_ps((a ? a[i + 2] : 0.0f) + wscale * w[i + 2] * _mm512_reduce_add_ps(d2));
        const __m512 c3 = _mm512_set1_ps((a ? a[i + 3] : 0.0f) + wscale * w[i + 3] * _mm512_reduce_add_ps(d3));
        for (std::int64_t j = 0; j < s; j += 16) {
            __m512 o = _mm512_loadu_ps(out + j);
            o = _mm512_fmadd_ps(c0, _mm512_loadu_ps(g0 + j), o);
            o = _mm512_fmadd_ps(c1, _mm512_loadu_ps(g1 + j), o);
            o = _mm512_fmadd_ps(c2, _mm512_loadu_ps(g2 + j), o);
            o = _mm512_fmadd_ps(c3, _mm512_loadu_ps(g3 + j), o);
            _mm512_storeu_ps(out + j, o);
        }
    }
    for (; i < n; ++i) {
        const float* g = G + i * s;
        __m512 d = _mm512_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) d = _mm512_fmadd_ps(_mm512_loadu_ps(g + j), _mm512_loadu_ps(v + j), d);
        const __m512 c = _mm512_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * _mm512_reduce_add_ps(d));
        for (std::int64_t j = 0; j < s; j += 16)
            _mm512_storeu_ps(out + j, _mm512_fmadd_ps(c, _mm512_loadu_ps(g + j), _mm512_loadu_ps(out + j)));
    }
}
#endif

#if defined(__AVX512F__)
// Sums of 16 vectors in one: lane r of the result = the horizontal sum of d[r]. A transpose-and-add
// tree (45 shuffles/adds for 16 rows) instead of 16 separate reductions (~8 dependent ops each).
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

// Where a pass reads its rows. Plain: rows of G with weights w and a (a may be null). Gather: rows
// Y[idx[i]], copied to G row i with w and a computed from conf as they go (the first pass of a row,
// which brings its factor rows in from memory).
struct PassRows {
    const float* G = nullptr;
    const float* w = nullptr;
    const float* a = nullptr;
};
struct GatherRows {
    const float* Y = nullptr;
    const std::int32_t* idx = nullptr;
    const float* conf = nullptr;
    float* G = nullptr;
    float* w = nullptr;
    float* a = nullptr;
};

// The pass for s = 16 V (V <= 8), sixteen rows at a time: their dot products with v are reduced
// together, the coefficients computed as one vector, and out stays in registers for the whole pass.
// A short last group repeats its last row with a zero coefficient (in the gather case it writes
// G, w and a up to n rounded up to 16).
template <int V, typename Rows>
void pass16_avx512(const Rows& in, std::int64_t n, float wscale, const float* v, float* out) {
    constexpr bool gather = std::is_same_v<Rows, GatherRows>;
    constexpr std::int64_t s = 16 * V;
    __m512 vv[V], o[V];
    for (int j = 0; j < V; ++j) {
        vv[j] = _mm512_loadu_ps(v + 16 * j);
        o[j] = _mm512_loadu_ps(out + 16 * j);
    }
    alignas(64) float coef[16];
    const __m512 ws = _mm512_set1_ps(wscale);
    for (std::int64_t i0 = 0; i0 < n; i0 += 16) {
        const std::int64_t rows = std::min<std::int64_t>(16, n - i0);
        const __mmask16 live = static_cast<__mmask16>((1u << rows) - 1);
        if constexpr (gather) {
            // Ask for the next group's rows now: their misses overlap this group's arithmetic.
            const std::int64_t ahead = std::min<std::int64_t>(16, n - i0 - 16);
            for (std::int64_t r = 0; r < ahead; ++r) {
                const char* p = reinterpret_cast<const char*>(in.Y + static_cast<std::int64_t>(in.idx[i0 + 16 + r]) * s);
                for (int l = 0; l < V; ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
            }
        }
        __m512 d[16];
        for (int r = 0; r < 16; ++r) {
            const std::int64_t i = i0 + std::min<std::int64_t>(r, rows - 1);
            const float* g;
            if constexpr (gather)
                g = in.Y + static_cast<std::int64_t>(in.idx[i]) * s;
            else
                g = in.G + i * s;
            __m512 acc = _mm512_setzero_ps();
            for (int j = 0; j < V; ++j) {
                const __m512 x = _mm512_loadu_ps(g + 16 * j);
                if constexpr (gather) _mm512_storeu_ps(in.G + (i0 + r) * s + 16 * j, x);
                acc = _mm512_fmadd_ps(x, vv[j], acc);
            }
            d[r] = acc;
        }
        if constexpr (gather) {
            const __m512 c = _mm512_maskz_loadu_ps(live, in.conf + i0);
            _mm512_storeu_ps(in.w + i0, _mm512_sub_ps(_mm512_abs_ps(c), _mm512_set1_ps(1.0f)));
            _mm512_storeu_ps(in.a + i0, _mm512_max_ps(c, _mm512_setzero_ps()));
        }
        __m512 cv = _mm512_mul_ps(_mm512_mul_ps(ws, _mm512_maskz_loadu_ps(live, in.w + i0)), reduce16(d));
        if (in.a) cv = _mm512_add_ps(cv, _mm512_maskz_loadu_ps(live, in.a + i0));
        _mm512_store_ps(coef, _mm512_maskz_mov_ps(live, cv));
        const float* G = in.G + i0 * s;
        for (std::int64_t r = 0; r < rows; ++r) {
            const __m512 c = _mm512_set1_ps(coef[r]);
            for (int j = 0; j < V; ++j) o[j] = _mm512_fmadd_ps(c, _mm512_loadu_ps(G + r * s + 16 * j), o[j]);
        }
    }
    for (int j = 0; j < V; ++j) _mm512_storeu_ps(out + 16 * j, o[j]);
}

// The sixteen-row kernel for s <= 128 (false: not handled here).
template <typename Rows>
bool pass16(std::int64_t s, const Rows& in, std::int64_t n, float wscale, const float* v, float* out) {
    switch (s) {
        case 16: pass16_avx512<1>(in, n, wscale, v, out); return true;
        case 32: pass16_avx512<2>(in, n, wscale, v, out); return true;
        case 48: pass16_avx512<3>(in, n, wscale, v, out); return true;
        case 64: pass16_avx512<4>(in, n, wscale, v, out); return true;
        case 80: pass16_avx512<5>(in, n, wscale, v, out); return true;
        case 96: pass16_avx512<6>(in, n, wscale, v, out); return true;
        case 112: pass16_avx512<7>(in, n, wscale, v, out); return true;
        case 128: pass16_avx512<8>(in, n, wscale, v, out); return true;
        default: return false;
    }
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
float hsum256(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// s a multiple of 8; two rows at a time (AVX2 has half the registers of AVX-512).
void rank1_pass_avx2(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                     float wscale, const float* v, float* out) {
    std::int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const float* g0 = G + i * s;
        const float* g1 = g0 + s;
        __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 8) {
            __m256 vj = _mm256_loadu_ps(v + j);
            d0 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + j), vj, d0);
            d1 = _mm256_fmadd_ps(_mm256_loadu_ps(g1 + j), vj, d1);
        }
        const __m256 c0 = _mm256_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * hsum256(d0));
        const __m256 c1 = _mm256_set1_ps((a ? a[i + 1] : 0.0f) + wscale * w[i + 1] * hsum256(d1));
        for (std::int64_t j = 0; j < s; j += 8) {
            __m256 o = _mm256_loadu_ps(out + j);
            o = _mm256_fmadd_ps(c0, _mm256_loadu_ps(g0 + j), o);
            o = _mm256_fmadd_ps(c1, _mm256_loadu_ps(g1 + j), o);
            _mm256_storeu_ps(out + j, o);
        }
    }
    for (; i < n; ++i) {
        const float* g = G + i * s;
        __m256 d = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 8) d = _mm256_fmadd_ps(_mm256_loadu_ps(g + j), _mm256_loadu_ps(v + j), d);
        const __m256 c = _mm256_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * hsum256(d));
        for (std::int64_t j = 0; j < s; j += 8)
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(c, _mm256_loadu_ps(g + j), _mm256_loadu_ps(out + j)));
    }
}
#endif

}  // namespace

void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out) {
#if defined(__AVX512F__)
    if (n > 0 && pass16(s, PassRows{G, w, a}, n, wscale, v, out)) return;
    if (s % 16 == 0) return rank1_pass_avx512(G, n, s, w, a, wscale, v, out);
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (s % 8 == 0) return rank1_pass_avx2(G, n, s, w, a, wscale, v, out);
#endif
    rank1_pass_generic(G, n, s, w, a, wscale, v, out);
}

void gather_rank1_pass(const float* src, std::int64_t s, const std::int32_t* idx, const float* conf, std::int64_t n,
                       float* G, float* w, float* a, float wscale, const float* v, float* out) {
#if defined(__AVX512F__)
    if (n > 0 && pass16(s, GatherRows{src, idx, conf, G, w, a}, n, wscale, v, out)) return;
#endif
    gather_rows(src, s, idx, n, G);
    for (std::int64_t i = 0; i < n; ++i) {
        w[i] = std::fabs(conf[i]) - 1.0f;
        a[i] = conf[i] > 0.0f ? conf[i] : 0.0f;
    }
    weighted_rank1_pass(G, n, s, w, a, wscale, v, out);
}

bool weighted_rank1_pass_is_simd(std::int64_t s) {
#if defined(__AVX512F__)
    if (s % 16 == 0) return true;
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (s % 8 == 0) return true;
#endif
    (void)s;
    return false;
}

void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out) {
    for (std::int64_t j = 0; j < s; ++j) out[j] = 0.0f;
    std::int64_t r = 0;
    for (; r + 4 <= k; r += 4) {
        const float* m0 = M + r * s;
        const float* m1 = m0 + s;
        const float* m2 = m1 + s;
        const float* m3 = m2 + s;
        const float v0 = v[r], v1 = v[r + 1], v2 = v[r + 2], v3 = v[r + 3];
#pragma omp simd
        for (std::int64_t j = 0; j < s; ++j) out[j] += v0 * m0[j] + v1 * m1[j] + v2 * m2[j] + v3 * m3[j];
    }
    for (; r < k; ++r) axpy(v[r], M + r * s, out, s);
}

namespace ref {

void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        float d = 0.0f;
        for (std::int64_t j = 0; j < s; ++j) d += g[j] * v[j];
        const float c = (a ? a[i] : 0.0f) + wscale * w[i] * d;
        for (std::int64_t j = 0; j < s; ++j) out[j] += c * g[j];
    }
}

void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out) {
    for (std::int64_t j = 0; j < s; ++j) {
        float t = 0.0f;
        for (std::int64_t r = 0; r < k; ++r) t += M[r * s + j] * v[r];
        out[j] = t;
    }
}

}  // namespace ref

}  // namespace encore::kernels
