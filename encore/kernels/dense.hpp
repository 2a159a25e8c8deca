#pragma once
// Small dense vector kernels for the ALS hot loops. Written as plain loops under `omp simd` so the
// compiler vectorises them for whatever -march it is given (AVX-512/AVX2 with -march=native, SSE2
// otherwise) with no intrinsics. The ref:: versions are straightforward scalar loops: the tests
// check the vector versions against them. Callers keep vectors padded to a multiple of 16 floats
// with zero padding (Matrix rows), so loops over the padded length need no remainder handling to
// be fast, but every function is correct for any n.
#include <cstdint>

namespace encore::kernels {

// The multiply-add of the vector kernels: fused where the build has FMA (one rounding, as the
// intrinsics kernels), a plain multiply and add otherwise. Written out rather than left to the
// compiler's contraction, which happens at -O2 and up only: the sanitizer build (-O1) would otherwise
// round differently from the intrinsics it is compared with.
inline float madd(float a, float b, float c) {
#if defined(__FMA__)
    return __builtin_fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

inline float dot(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (std::int64_t j = 0; j < n; ++j) s += a[j] * b[j];
    return s;
}

// Dot product accumulated in double (for objective values, where cancellation matters).
inline double dot_double(const float* a, const float* b, std::int64_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t j = 0; j < n; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    return s;
}

// y += a * x
inline void axpy(float a, const float* x, float* y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) y[j] = madd(a, x[j], y[j]);
}

// y = x + a * y  (the CG direction update p = r + beta p)
inline void xpay(const float* x, float a, float* y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) y[j] = madd(a, y[j], x[j]);
}

inline void copy(const float* x, float* y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) y[j] = x[j];
}

inline void scale(float a, float* y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) y[j] *= a;
}

namespace ref {

inline float dot(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) s += a[j] * b[j];
    return s;
}

inline void axpy(float a, const float* x, float* y, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

}  // namespace ref

}  // namespace encore::kernels
