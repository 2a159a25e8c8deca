#include "encore/kernels/als_kernels.hpp"

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
    if (s % 16 == 0) return rank1_pass_avx512(G, n, s, w, a, wscale, v, out);
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (s % 8 == 0) return rank1_pass_avx2(G, n, s, w, a, wscale, v, out);
#endif
    rank1_pass_generic(G, n, s, w, a, wscale, v, out);
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
