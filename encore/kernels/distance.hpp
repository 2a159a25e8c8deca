#pragma once
// Distance kernels for nearest-neighbour search: inner product and squared L2 over float vectors.
// The vector path is picked at compile time from the -march flags: AVX-512 (16 lanes, masked tail),
// AVX2+FMA (8 lanes, scalar tail), else a plain loop. The ref:: versions are the scalar definitions
// the tests hold the vector paths to. Index rows are padded with zeros to a multiple of 16 floats, so
// callers pass the padded length and the AVX-512 path runs without a tail.
#include <cstddef>
#include <cstdint>

#include "encore/kernels/dense.hpp"
#include "encore/util/prefetch.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace encore::kernels {

// "avx512", "avx2" or "scalar": the path this build uses (benchmarks print it).
const char* distance_isa();

// out[i] = dot_i8(q, codes + ids[i] * stride, n) for i < m: a batch of scattered candidates (ANN
// beam expansions, forest leaves), sixteen at a time with one combined reduction where AVX-512 is
// built in. Equal to dot_i8 up to the order of the additions.
void dot_i8_gather(const float* q, const std::int8_t* codes, std::int64_t stride, const std::uint32_t* ids,
                   std::size_t m, std::int64_t n, float* out);

namespace ref {

inline float inner_product(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) s += a[j] * b[j];
    return s;
}

inline float squared_l2(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
        float d = a[j] - b[j];
        s += d * d;
    }
    return s;
}

// Inner product of a float query with int8 codes (the low-precision copy of index rows).
inline float dot_i8(const float* q, const std::int8_t* c, std::int64_t n) {
    float s = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) s += q[j] * static_cast<float>(c[j]);
    return s;
}

}  // namespace ref

#if defined(__AVX512F__)

namespace detail {
// Horizontal sum by in-register shuffles. The maskz forms: GCC 12 warns falsely about the
// undefined-register operand inside _mm512_reduce_add_ps and the unmasked shuffles.
inline float hsum512(__m512 v) {
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}
}  // namespace detail

inline float inner_product(const float* a, const float* b, std::int64_t n) {
    // Two accumulators hide the FMA latency for the common 64..128-float rows.
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
    }
    for (; j + 16 <= n; j += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
    if (j < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j), s1);
    }
    return detail::hsum512(_mm512_add_ps(s0, s1));
}

inline float squared_l2(const float* a, const float* b, std::int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; j + 16 <= n; j += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (j < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return detail::hsum512(_mm512_add_ps(s0, s1));
}

// Float query times int8 codes: the codes widen to float in registers, so a 64-dimensional row is
// one cache line to fetch instead of four (the query stays exact; only the stored side is rounded).
inline float dot_i8(const float* q, const std::int8_t* c, std::int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        const __m512 c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j))));
        const __m512 c1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j + 16))));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), c0, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), c1, s1);
    }
    for (; j + 16 <= n; j += 16) {
        const __m512 c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j))));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), c0, s0);
    }
    float s = detail::hsum512(_mm512_add_ps(s0, s1));
    for (; j < n; ++j) s += q[j] * static_cast<float>(c[j]);
    return s;
}

#elif defined(__AVX2__) && defined(__FMA__)

namespace detail {
inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
}  // namespace detail

inline float inner_product(const float* a, const float* b, std::int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), s1);
    }
    for (; j + 8 <= n; j += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
    float s = detail::hsum256(_mm256_add_ps(s0, s1));
    for (; j < n; ++j) s += a[j] * b[j];
    return s;
}

inline float squared_l2(const float* a, const float* b, std::int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = detail::hsum256(_mm256_add_ps(s0, s1));
    for (; j < n; ++j) {
        float d = a[j] - b[j];
        s += d * d;
    }
    return s;
}

inline float dot_i8(const float* q, const std::int8_t* c, std::int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + j))));
        const __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + j + 8))));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), c0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), c1, s1);
    }
    float s = detail::hsum256(_mm256_add_ps(s0, s1));
    for (; j < n; ++j) s += q[j] * static_cast<float>(c[j]);
    return s;
}

#else

// Portable build: the compiler-vectorised dot product the ALS kernels use.
inline float inner_product(const float* a, const float* b, std::int64_t n) { return dot(a, b, n); }

inline float squared_l2(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (std::int64_t j = 0; j < n; ++j) {
        float d = a[j] - b[j];
        s += d * d;
    }
    return s;
}

inline float dot_i8(const float* q, const std::int8_t* c, std::int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (std::int64_t j = 0; j < n; ++j) s += q[j] * static_cast<float>(c[j]);
    return s;
}

#endif

// Hints the cache to fetch bytes starting at p (a vector about to be scored). Touches nothing.
inline void prefetch_bytes(const void* p, std::size_t bytes) {
    const char* c = static_cast<const char*>(p);
    for (std::size_t off = 0; off < bytes; off += 64) prefetch_l1(c + off);
}

}  // namespace encore::kernels
