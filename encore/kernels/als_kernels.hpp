#pragma once
// The per-row ALS kernels (Hu, Koren, Volinsky; CG after Takacs, Pilaszy, Tikk). A row's factor
// vectors are first gathered into a contiguous block G (n rows of s floats, s a multiple of 16 with
// zero padding) so the repeated passes of CG stream from cache instead of chasing indices into the
// big factor matrix. ref:: holds scalar references with the same contract, used by the tests.
#include <cstdint>

#include "encore/kernels/dense.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace encore::kernels {

// G[i * s + j] = src[idx[i] * s + j] for i < n, j < s (rows of a matrix with stride s), for a row's
// entries with confidences conf[0..n): also w[i] = |c_i| - 1,
// a[i] = max(c_i, 0), and, when sum is not null, sum[0..s) += sum_i a_i g_i (the right-hand side,
// summed in the order weighted_sum sums it, while the row is in registers anyway).
void gather_rows_weighted(const float* src, std::int64_t s, const std::int32_t* idx, const float* conf, std::int64_t n,
                          float* G, float* w, float* a, float* sum);
// The same from rows stored as IEEE half floats (s halves each; G gets floats).
void gather_rows_weighted(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, const float* conf,
                          std::int64_t n, float* G, float* w, float* a, float* sum);
// A hint to start loading those rows into cache (a no-op where the compiler has no prefetch).
void prefetch_rows(const float* src, std::int64_t s, const std::int32_t* idx, std::int64_t n);
void prefetch_rows(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, std::int64_t n);

// out[j] += sum_i (a_i + wscale * w_i * (g_i . v)) g_i[j] over the n rows g_i of G (stride s).
// a == nullptr means a_i = 0. This is both the right-hand side / residual pass and the
// "sum (|c| - 1) (y . p) y" part of A p. Uses AVX-512 (s % 16 == 0) or AVX2 + FMA (s % 8 == 0)
// when compiled for them, a portable loop otherwise.
// With M (a symmetric k x k matrix, rows of stride s, zero padding) out is overwritten instead:
// out = wscale * M v + sum_i (...) g_i. CG's passes take their M v this way: the AVX-512 kernel
// interleaves the product's FMAs with the rows', where they fill the waits on loads and reductions.
void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out, const float* M = nullptr, std::int64_t k = 0);
// The first pass of a row fused with its gather: G row i = src row idx[i] (stride s), w[i] = |c_i| - 1,
// a[i] = max(c_i, 0) for c = conf, then out += sum_i (a_i + wscale * w_i * (g_i . v)) g_i as above
// (with M as above). Fusing lets the row loads overlap the arithmetic. G, w and a need room for n rows.
void gather_rank1_pass(const float* src, std::int64_t s, const std::int32_t* idx, const float* conf, std::int64_t n,
                       float* G, float* w, float* a, float wscale, const float* v, float* out,
                       const float* M = nullptr, std::int64_t k = 0);
// The same with src rows stored as IEEE half floats (s halves each): G gets them as floats.
void gather_rank1_pass_half(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, const float* conf,
                            std::int64_t n, float* G, float* w, float* a, float wscale, const float* v, float* out,
                            const float* M = nullptr, std::int64_t k = 0);
// IEEE half <-> float, round to nearest even (portable; the kernels use F16C / AVX-512 where built).
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
// dst[i] = float_to_half(src[i]), resp. half_to_float(src[i]), for n values.
void floats_to_halves(const float* src, std::uint16_t* dst, std::int64_t n);
void halves_to_floats(const std::uint16_t* src, float* dst, std::int64_t n);
// Whether the call above takes an intrinsics path for this s in this build (for tests and reports).
bool weighted_rank1_pass_is_simd(std::int64_t s);

// out[0..s) = M v for a symmetric matrix M (k x k used, rows of stride s, zero padding): computed as
// sum_j v_j M_j (row axpys), which needs no horizontal sums.
void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out);

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
// The sum of x's eight lanes (a fixed tree: results do not depend on the caller).
inline float detail_hsum8(__m256 x) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
#endif

// a . b for CG's short vectors: with AVX-512 (or AVX2) and s % 16 == 0 two vector accumulators and a tree
// reduction (dot() compiles to a serial chain of scalar adds, a latency CG pays several times a row).
inline float cg_dot(const float* a, const float* b, std::int64_t s) {
#if defined(__AVX512F__)
    if (s % 16 == 0) {
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        std::int64_t j = 0;
        for (; j + 32 <= s; j += 32) {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), acc1);
        }
        if (j < s) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), acc0);
        return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if (s % 16 == 0) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), acc1);
        }
        return detail_hsum8(_mm256_add_ps(acc0, acc1));
    }
#endif
    return dot(a, b, s);
}

// x += alpha p and r -= alpha ap, returning the new r . r: the same operations as two axpy calls and
// cg_dot (bit for bit), in one sweep over the vectors.
inline float cg_update(float alpha, const float* p, const float* ap, float* x, float* r, std::int64_t s) {
#if defined(__AVX512F__)
    if (s % 16 == 0) {
        const __m512 pa = _mm512_set1_ps(alpha), na = _mm512_set1_ps(-alpha);
        auto step = [&](std::int64_t j) {
            _mm512_storeu_ps(x + j, _mm512_fmadd_ps(pa, _mm512_loadu_ps(p + j), _mm512_loadu_ps(x + j)));
            const __m512 rj = _mm512_fmadd_ps(na, _mm512_loadu_ps(ap + j), _mm512_loadu_ps(r + j));
            _mm512_storeu_ps(r + j, rj);
            return rj;
        };
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        std::int64_t j = 0;
        for (; j + 32 <= s; j += 32) {
            const __m512 r0 = step(j), r1 = step(j + 16);
            acc0 = _mm512_fmadd_ps(r0, r0, acc0);
            acc1 = _mm512_fmadd_ps(r1, r1, acc1);
        }
        if (j < s) {
            const __m512 r0 = step(j);
            acc0 = _mm512_fmadd_ps(r0, r0, acc0);
        }
        return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if (s % 16 == 0) {
        const __m256 pa = _mm256_set1_ps(alpha), na = _mm256_set1_ps(-alpha);
        auto step = [&](std::int64_t j) {
            _mm256_storeu_ps(x + j, _mm256_fmadd_ps(pa, _mm256_loadu_ps(p + j), _mm256_loadu_ps(x + j)));
            const __m256 rj = _mm256_fmadd_ps(na, _mm256_loadu_ps(ap + j), _mm256_loadu_ps(r + j));
            _mm256_storeu_ps(r + j, rj);
            return rj;
        };
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) {
            const __m256 r0 = step(j), r1 = step(j + 8);
            acc0 = _mm256_fmadd_ps(r0, r0, acc0);
            acc1 = _mm256_fmadd_ps(r1, r1, acc1);
        }
        return detail_hsum8(_mm256_add_ps(acc0, acc1));
    }
#endif
    axpy(alpha, p, x, s);
    axpy(-alpha, ap, r, s);
    return cg_dot(r, r, s);
}

// Conjugate gradient for (M + sum_i w_i g_i g_i^T) x = sum_i a_i g_i, warm-started from x:
// `steps` steps at most, stopping early once r.r < 1e-20 (implicit's rule). apply(v, with_a, wscale,
// out) must set out = wscale * M v + sum_i ((with_a ? a_i : 0) + wscale * w_i (g_i . v)) g_i over all
// of the row's rows (weighted_rank1_pass with M; wscale is -1 for the residual, +1 for A p).
// r, p, ap: scratch of s floats; x, r, p, ap padding stays zero. Returns the number of steps taken.
// inv_d (with z, scratch of s floats): a diagonal preconditioner D^-1 (zero in the padding), so
// z = D^-1 r replaces r as the search direction's source. In the eigenbasis of the Gram matrix
// (AlsOptions::eigenbasis) D = its eigenvalues removes the spread of Y^T Y + lambda I from the
// system, which is all of it for a row with few entries. Null: plain CG.
template <typename Apply>
int cg_solve(std::int64_t s, Apply&& apply, int steps, float* x, float* r, float* p, float* ap,
             const float* inv_d = nullptr, float* z = nullptr) {
    constexpr float kTolerance = 1e-20f;
    // r = b - A x = -M x + sum_i (a_i - w_i (g_i . x)) g_i
    apply(x, true, -1.0f, r);
    float rr = cg_dot(r, r, s);
    if (rr < kTolerance) return 0;
    // out = D^-1 r, returning r . out (plain CG: out = r, r . r known already).
    auto precondition = [&](float* out) {
        if (!inv_d) {
            if (out != r) copy(r, out, s);
            return rr;
        }
        for (std::int64_t j = 0; j < s; ++j) out[j] = inv_d[j] * r[j];
        return cg_dot(r, out, s);
    };
    float* const zr = inv_d ? z : r;  // the direction's source after the first step
    float rz = precondition(p);
    int it = 0;
    while (it < steps) {
        apply(p, false, 1.0f, ap);
        float pap = cg_dot(p, ap, s);
        ++it;
        // A is positive definite for lambda > 0; a non-positive curvature can only come from
        // rounding (or lambda = 0) and would blow x up, so stop there.
        if (!(pap > 0.0f) || !(rz > 0.0f)) break;
        rr = cg_update(rz / pap, p, ap, x, r, s);
        if (rr < kTolerance || it == steps) break;
        const float rz_new = precondition(zr);
        xpay(zr, rz_new / rz, p, s);
        rz = rz_new;
    }
    return it;
}

// The Cholesky solver's kernels. A is a k x k symmetric matrix stored by rows of stride s (s >= k),
// of which only the upper triangle (row r, columns r..k-1) is read: in row-major storage the factor
// U of A = U^T U then has contiguous rows, and every step of the factorisation is a row operation.
//
// A += sum_i w_i g_i g_i^T over the n rows g_i of G (stride s), upper triangle. Entries below the
// diagonal and columns k..s-1 inside the touched 16- (AVX2: 8-) column blocks may be written too
// (meaningless).
// With C given, A = C + sum_i ... instead (C's upper triangle read, A's written; saves a copy).
void weighted_syrk(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A,
                   const float* C = nullptr);
// out[0..s) += sum_i a_i g_i.
void weighted_sum(const float* G, std::int64_t n, std::int64_t s, const float* a, float* out);
// Solves A x = b by an in-place Cholesky factorisation A = U^T U (upper triangle of A, rows of
// stride s; b has s floats of room). b is carried through the factorisation (the forward substitution
// U^T y = b for free), then U x = y by back substitution. A and b are overwritten; x[0..k) is
// written. Returns false, leaving x untouched, when a pivot is not positive (A is not numerically
// positive definite).
bool cholesky_solve(float* A, std::int64_t k, std::int64_t s, float* b, float* x);

// Sixteen such systems at once (A[l], b[l], x[l] for l < 16, as above), system l in lane l of every
// vector: the serial chains of one factorisation (pivots, substitutions) run sixteen wide, and no
// lane is wasted on the triangle's ragged edges. A null A[l] is an unused lane. A and b are only
// read here (the portable fallback, sixteen cholesky_solve calls, overwrites them). Returns the
// lanes whose factorisation failed (bit l set): their x is untouched. scratch: 64-byte aligned,
// cholesky_solve16_scratch(k) floats.
std::uint32_t cholesky_solve16(float* const* A, std::int64_t k, std::int64_t s, float* const* b, float* const* x,
                               float* scratch);
constexpr std::int64_t cholesky_solve16_scratch(std::int64_t k) { return 16 * (k * (k + 3) / 2 + k); }

namespace ref {
void weighted_syrk(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A);
// The textbook algorithm in double precision, same contract as above (A and b are only read).
bool cholesky_solve(float* A, std::int64_t k, std::int64_t s, float* b, float* x);
void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out);
void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out);
}  // namespace ref

}  // namespace encore::kernels
