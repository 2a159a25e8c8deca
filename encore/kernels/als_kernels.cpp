#include "encore/kernels/als_kernels.hpp"

namespace encore::kernels {

void gather_rows(const float* src, std::int64_t s, const std::int32_t* idx, std::int64_t n, float* dst) {
    // The rows are scattered over a matrix far bigger than cache: ask for a few rows ahead so the
    // loads overlap instead of stalling one after another.
    constexpr std::int64_t kAhead = 8;
    const std::int64_t lines = (s * static_cast<std::int64_t>(sizeof(float)) + 63) / 64;
    for (std::int64_t i = 0; i < n; ++i) {
#if defined(__GNUC__)
        if (i + kAhead < n) {
            const char* next = reinterpret_cast<const char*>(src + static_cast<std::int64_t>(idx[i + kAhead]) * s);
            for (std::int64_t l = 0; l < lines; ++l) __builtin_prefetch(next + 64 * l, 0, 3);
        }
#endif
        copy(src + static_cast<std::int64_t>(idx[i]) * s, dst + i * s, s);
    }
}

void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out) {
    std::int64_t i = 0;
    // Four rows at a time: four independent dot products hide each other's reduction latency, and
    // out is loaded and stored once per four rows.
    for (; i + 4 <= n; i += 4) {
        const float* g0 = G + i * s;
        const float* g1 = g0 + s;
        const float* g2 = g1 + s;
        const float* g3 = g2 + s;
        float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
        for (std::int64_t j = 0; j < s; ++j) {
            d0 += g0[j] * v[j];
            d1 += g1[j] * v[j];
            d2 += g2[j] * v[j];
            d3 += g3[j] * v[j];
        }
        const float c0 = (a ? a[i] : 0.0f) + wscale * w[i] * d0;
        const float c1 = (a ? a[i + 1] : 0.0f) + wscale * w[i + 1] * d1;
        const float c2 = (a ? a[i + 2] : 0.0f) + wscale * w[i + 2] * d2;
        const float c3 = (a ? a[i + 3] : 0.0f) + wscale * w[i + 3] * d3;
#pragma omp simd
        for (std::int64_t j = 0; j < s; ++j) out[j] += c0 * g0[j] + c1 * g1[j] + c2 * g2[j] + c3 * g3[j];
    }
    for (; i < n; ++i) {
        const float* g = G + i * s;
        const float c = (a ? a[i] : 0.0f) + wscale * w[i] * dot(g, v, s);
        axpy(c, g, out, s);
    }
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
