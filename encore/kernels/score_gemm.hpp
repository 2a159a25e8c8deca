#pragma once
// The scoring GEMM of exact top-k: scores of a block of queries against a block of targets, with
// the targets packed once into panels of 16 rows stored dimension-major (for each dimension j the
// 16 targets' values side by side), so the kernel reads them as whole vectors and broadcasts the
// query values. Every score is one fused multiply-add chain over the dimensions in order,
// s = fma(q[j], t[j], s) for j = 0, 1, ..., starting from 0, whatever the path (AVX-512 or AVX2
// registers, the portable loop or score_one below), so a score recomputed later is bit-identical to the one the
// block computed.
#include <cstdint>
#include <cstring>
#include <vector>

#include "encore/data/matrix.hpp"
#include "encore/kernels/dense.hpp"

namespace encore::kernels {

inline constexpr std::int64_t kPanel = 16;  // targets per packed panel

// Every score's multiply-add is madd (dense.hpp): fused where the build has FMA, as the vector
// kernels; a plain multiply and add otherwise (then the vector kernels are not compiled either).

class PackedTargets {
public:
    PackedTargets() = default;
    // Packs rows [0, T.rows()) over T.stride() dimensions (the zero padding included: it adds exact
    // zeros). Rows past the end of the last panel are zero.
    PackedTargets(const Matrix& T, int threads);

    std::int64_t rows() const { return rows_; }
    std::int64_t dim() const { return dim_; }
    // Panel p: dim x 16 floats.
    const float* panel(std::int64_t p) const { return data_.data() + p * dim_ * kPanel; }

private:
    std::vector<float> data_;
    std::int64_t rows_ = 0, dim_ = 0;
};

// scores[q * ld + t] = score(Q row q, target t0 + t) for q < qn, t < tn; t0 a multiple of 16. Q rows
// have stride q_stride and at least P.dim() values (zero padded).
void score_block(const float* Q, std::int64_t q_stride, std::int64_t qn, const PackedTargets& P, std::int64_t t0,
                 std::int64_t tn, float* scores, std::int64_t ld);

// The portable loop score_block uses where neither AVX-512 nor AVX2 + FMA is compiled in (exposed for the tests: both
// give bit-identical scores).
void score_block_portable(const float* Q, std::int64_t q_stride, std::int64_t qn, const PackedTargets& P,
                          std::int64_t t0, std::int64_t tn, float* scores, std::int64_t ld);

// The same score for one pair, bit-identical to score_block's.
inline float score_one(const float* q, const float* t, std::int64_t dim) {
    float s = 0.0f;
    for (std::int64_t j = 0; j < dim; ++j) s = madd(q[j], t[j], s);
    return s;
}

// score_one of q against n rows (pointers), eight chains interleaved: a single chain waits on each
// multiply-add's latency, eight independent ones keep the units busy. Bit-identical to score_one.
void score_rows(const float* q, const float* const* rows, std::int64_t n, std::int64_t dim, float* out);

// One query against n contiguous rows (stride apart): out[i] = q . row i over dim values. For few
// queries, where packing the targets would cost more than it saves: eight rows at a time, each a
// vector accumulator over the dimensions, reduced together at the end (AVX2 + FMA builds), so the pass
// runs at memory speed. The summation order differs from score_one's chain (scores agree to
// rounding, not bit for bit); every few-query path uses this one function, so a query scores the
// same whether asked alone or with others.
void score_contiguous(const float* q, const float* rows, std::int64_t stride, std::int64_t n, std::int64_t dim,
                      float* out);

// out[k] = score_contiguous(q, rows, stride, n, dim)[at[k]], bit for bit, for m rows at[k] < n: a row's
// score depends only on q, the row, dim and whether the row is in one of the whole groups of eight
// (i < n - n % 8: the vector path) or in the tail (score_one). Scores the few rows the half-precision
// scan leaves for re-ranking, eight at a time, with the same arithmetic as score_contiguous.
void score_contiguous_at(const float* q, const float* rows, std::int64_t stride, std::int64_t n, std::int64_t dim,
                         const std::int32_t* at, std::int64_t m, float* out);

// ---- the low-precision pass ----
// Candidates first, exactly after: bf16 copies of queries and targets scored with AVX-512 BF16 dot
// products (twice the multiply-adds per instruction of float32), then every target that could be in
// the exact top k re-scored with score_one. For a query the bf16 score of every target is within a
// bound eps of its float32 score (bf16_error_bound), so the float32 k-th best is at least the bf16
// k-th minus eps, and every target of the exact top k (ties included) has a bf16 score above the
// bf16 k-th minus 2 eps: re-ranking those gives exactly the float32 path's result.

// Whether this build has the bf16 kernel (AVX-512 BF16 compiled in).
bool has_bf16_scores();

// Norms of a vector x, of its bf16 rounding x~ and of the rounding error x - x~.
struct Bf16Norms {
    double x = 0, rounded = 0, error = 0;
};
Bf16Norms bf16_norms(const float* x, std::int64_t dim);

// A bound on |bf16 score - score_one| for a query with norms q against any target whose norms are
// at most t (component-wise). With e = x - x~: q.t - q~.t~ = e_q.t + q~.e_t exactly, so by
// Cauchy-Schwarz the inputs' rounding moves the score by at most |e_q||t| + |q~||e_t|; the float32
// sums of the two paths add at most dim 2^-24 sum|q_j t_j| each (<= 2^-16 |q||t| for dim <= 256), and
// flushing subnormals adds far less than 1e-27 for |values| <= 1e6. The result is rounded up.
double bf16_error_bound(const Bf16Norms& q, const Bf16Norms& t);
inline constexpr std::int64_t kMaxBf16Dim = 256;
inline constexpr float kMaxBf16Value = 1e6f;

// Round to nearest even bf16 (the top 16 bits of the float32 pattern); finite inputs.
std::uint16_t to_bf16(float x);

// Targets as bf16 pairs in panels of 16: for panel p and dimension pair m, 16 32-bit words, word l
// holding (t_l[2m], t_l[2m + 1]). dim = T.stride() (even).
class PackedTargetsBf16 {
public:
    PackedTargetsBf16() = default;
    PackedTargetsBf16(const Matrix& T, int threads);
    std::int64_t dim() const { return dim_; }
    const std::uint32_t* panel(std::int64_t p) const { return data_.data() + p * (dim_ / 2) * kPanel; }
    // The largest norms over the rows (component-wise), for bf16_error_bound.
    const Bf16Norms& max_norms() const { return max_norms_; }

private:
    std::vector<std::uint32_t> data_;
    std::int64_t rows_ = 0, dim_ = 0;
    Bf16Norms max_norms_;
};

// Queries as bf16 pairs, row-major: row q has dim / 2 words (out is resized).
void pack_queries_bf16(const float* Q, std::int64_t q_stride, std::int64_t qn, std::int64_t dim,
                       std::vector<std::uint32_t>& out);

// bf16 scores of qn packed query rows against targets [t0, t0 + tn) (t0 a multiple of 16) into
// scores[q * ld + t]. Only when has_bf16_scores().
void score_block_bf16(const std::uint32_t* Q, std::int64_t qn, const PackedTargetsBf16& P, std::int64_t t0,
                      std::int64_t tn, float* scores, std::int64_t ld);

}  // namespace encore::kernels
