#include "encore/models/als.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <random>

#include <gtest/gtest.h>
#include <Eigen/Dense>

#include "encore/kernels/als_kernels.hpp"
#include "encore/util/error.hpp"

namespace encore {
namespace {

struct Problem {
    Csr by_user, by_item;
};

// users x items at the given density with confidences as weighting produces them: most above 1,
// some in (0, 1) (bm25), a few negative (dislikes).
Problem random_problem(int users, int items, double density, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int u = 0; u < users; ++u)
        for (int i = 0; i < items; ++i)
            if (unit(rng) < density) {
                r.push_back(u);
                c.push_back(i);
                float kind = unit(rng), conf;
                if (kind < 0.25f)
                    conf = 0.05f + 0.9f * unit(rng);
                else if (kind < 0.9f)
                    conf = 1.0f + 30.0f * unit(rng);
                else
                    conf = -(0.5f + 10.0f * unit(rng));
                v.push_back(conf);
            }
    Problem p;
    p.by_user = Csr::from_triplets(users, items, r, c, v, 1);
    p.by_item = p.by_user.transpose(1);
    return p;
}

// |A x - b| / |b| for user u's normal equations, all in double and without any solver code.
double normal_equation_residual(const Csr& cui, const Matrix& Y, const float* x, float lambda, std::int64_t u) {
    const std::int64_t k = Y.cols();
    std::vector<double> A(static_cast<std::size_t>(k * k), 0.0), b(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t i = 0; i < Y.rows(); ++i)
        for (std::int64_t p = 0; p < k; ++p)
            for (std::int64_t q = 0; q < k; ++q) A[static_cast<std::size_t>(p * k + q)] += double(Y(i, p)) * Y(i, q);
    for (std::int64_t p = 0; p < k; ++p) A[static_cast<std::size_t>(p * k + p)] += lambda;
    auto idx = cui.row_indices(u);
    auto val = cui.row_values(u);
    for (std::size_t j = 0; j < idx.size(); ++j) {
        double c = val[j], w = std::fabs(c) - 1.0;
        for (std::int64_t p = 0; p < k; ++p) {
            for (std::int64_t q = 0; q < k; ++q)
                A[static_cast<std::size_t>(p * k + q)] += w * Y(idx[j], p) * Y(idx[j], q);
            if (c > 0) b[static_cast<std::size_t>(p)] += c * Y(idx[j], p);
        }
    }
    double rr = 0, bb = 0;
    for (std::int64_t p = 0; p < k; ++p) {
        double t = -b[static_cast<std::size_t>(p)];
        for (std::int64_t q = 0; q < k; ++q) t += A[static_cast<std::size_t>(p * k + q)] * x[q];
        rr += t * t;
        bb += b[static_cast<std::size_t>(p)] * b[static_cast<std::size_t>(p)];
    }
    return std::sqrt(rr) / std::max(std::sqrt(bb), 1e-30);
}

bool same_bits(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && a.stride() == b.stride() &&
           std::memcmp(a.data(), b.data(), a.storage().size_bytes()) == 0;
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
    double d = 0;
    for (std::int64_t i = 0; i < a.rows(); ++i)
        for (std::int64_t j = 0; j < a.cols(); ++j) d = std::max(d, std::fabs(double(a(i, j)) - b(i, j)));
    return d;
}

double max_abs(const Matrix& a) {
    double d = 0;
    for (std::int64_t i = 0; i < a.rows(); ++i)
        for (std::int64_t j = 0; j < a.cols(); ++j) d = std::max(d, std::fabs(double(a(i, j))));
    return d;
}

AlsOptions options(AlsSolver solver, int factors, int iterations, int threads) {
    AlsOptions o;
    o.factors = factors;
    o.regularization = 0.1f;
    o.iterations = iterations;
    o.solver = solver;
    o.threads = threads;
    o.seed = 42;
    return o;
}

// Trains with o into X, Y and returns the loss of the result.
double train_for_loss(const Problem& p, const AlsOptions& o, Matrix& X, Matrix& Y) {
    train_als(p.by_user, p.by_item, o, X, Y);
    return als_loss(p.by_user, X, Y, o.regularization, 2);
}

// ---- kernels: vectorised versions against the scalar references ----

TEST(AlsKernels, MatchScalarReferences) {
    std::mt19937 rng(5);
    std::normal_distribution<float> g;
    // s: sixteen-row AVX-512 kernels (16..128), the four-row one (144), portable (20), AVX2 (24);
    // n: short and full groups of sixteen and their remainders.
    for (std::int64_t s : {16, 20, 24, 48, 64, 80, 128, 144}) {
        for (std::int64_t n : {0, 1, 3, 4, 7, 15, 16, 17, 33, 40}) {
            std::vector<float> G(static_cast<std::size_t>(n * s)), w(static_cast<std::size_t>(n)),
                a(static_cast<std::size_t>(n)), v(static_cast<std::size_t>(s));
            for (auto* vec : {&G, &w, &a, &v})
                for (auto& e : *vec) e = g(rng);
            for (bool with_a : {false, true}) {
                std::vector<float> out(static_cast<std::size_t>(s), 0.5f), ref(out);
                kernels::weighted_rank1_pass(G.data(), n, s, w.data(), with_a ? a.data() : nullptr, -0.75f, v.data(),
                                             out.data());
                kernels::ref::weighted_rank1_pass(G.data(), n, s, w.data(), with_a ? a.data() : nullptr, -0.75f,
                                                  v.data(), ref.data());
                for (std::int64_t j = 0; j < s; ++j)
                    ASSERT_NEAR(out[static_cast<std::size_t>(j)], ref[static_cast<std::size_t>(j)],
                                1e-4f * (1 + std::fabs(ref[static_cast<std::size_t>(j)])))
                        << "s=" << s << " n=" << n;
            }
            EXPECT_NEAR(kernels::dot(v.data(), v.data(), s), kernels::ref::dot(v.data(), v.data(), s), 1e-3f);
        }
        // symv over a symmetric matrix with k = s - 5 used columns and zero padding
        const std::int64_t k = s - 5;
        std::vector<float> M(static_cast<std::size_t>(s * s), 0.0f), v(static_cast<std::size_t>(s), 0.0f);
        for (std::int64_t i = 0; i < k; ++i) {
            v[static_cast<std::size_t>(i)] = g(rng);
            for (std::int64_t j = 0; j <= i; ++j)
                M[static_cast<std::size_t>(i * s + j)] = M[static_cast<std::size_t>(j * s + i)] = g(rng);
        }
        std::vector<float> out(static_cast<std::size_t>(s), 9.0f), ref(out);
        kernels::symv(M.data(), k, s, v.data(), out.data());
        kernels::ref::symv(M.data(), k, s, v.data(), ref.data());
        for (std::int64_t j = 0; j < s; ++j)
            ASSERT_NEAR(out[static_cast<std::size_t>(j)], ref[static_cast<std::size_t>(j)], 1e-4f);
        for (std::int64_t j = k; j < s; ++j) EXPECT_EQ(out[static_cast<std::size_t>(j)], 0.0f);
    }
}

TEST(AlsKernels, GatherRank1PassMatchesGatherThenPass) {
    std::mt19937 rng(8);
    std::normal_distribution<float> g;
    const std::int64_t rows = 50;
    for (std::int64_t s : {16, 20, 64, 128, 144}) {
        std::vector<float> Y(static_cast<std::size_t>(rows * s)), v(static_cast<std::size_t>(s));
        for (auto& e : Y) e = g(rng);
        for (auto& e : v) e = g(rng);
        for (std::int64_t n : {1, 5, 16, 17, 37}) {
            std::vector<std::int32_t> idx(static_cast<std::size_t>(n));
            std::vector<float> conf(static_cast<std::size_t>(n));
            for (std::int64_t i = 0; i < n; ++i) {
                idx[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(rng() % rows);
                conf[static_cast<std::size_t>(i)] = i % 5 == 4 ? -2.5f : 1.0f + static_cast<float>(i % 7);  // dislikes too
            }
            const std::size_t room = static_cast<std::size_t>((n + 15) / 16 * 16);
            std::vector<float> G(room * static_cast<std::size_t>(s)), w(room), a(room);
            std::vector<float> out(static_cast<std::size_t>(s), 0.25f), ref(out);
            kernels::gather_rank1_pass(Y.data(), s, idx.data(), conf.data(), n, G.data(), w.data(), a.data(), -1.0f,
                                       v.data(), out.data());
            std::vector<float> G2(static_cast<std::size_t>(n * s)), w2(static_cast<std::size_t>(n)),
                a2(static_cast<std::size_t>(n));
            for (std::int64_t i = 0; i < n; ++i) {
                for (std::int64_t j = 0; j < s; ++j)
                    G2[static_cast<std::size_t>(i * s + j)] = Y[static_cast<std::size_t>(idx[static_cast<std::size_t>(i)] * s + j)];
                float c = conf[static_cast<std::size_t>(i)];
                w2[static_cast<std::size_t>(i)] = std::fabs(c) - 1.0f;
                a2[static_cast<std::size_t>(i)] = c > 0 ? c : 0.0f;
            }
            kernels::ref::weighted_rank1_pass(G2.data(), n, s, w2.data(), a2.data(), -1.0f, v.data(), ref.data());
            for (std::int64_t i = 0; i < n * s; ++i) ASSERT_EQ(G[static_cast<std::size_t>(i)], G2[static_cast<std::size_t>(i)]);
            for (std::int64_t i = 0; i < n; ++i) {
                ASSERT_EQ(w[static_cast<std::size_t>(i)], w2[static_cast<std::size_t>(i)]);
                ASSERT_EQ(a[static_cast<std::size_t>(i)], a2[static_cast<std::size_t>(i)]);
            }
            for (std::int64_t j = 0; j < s; ++j)
                ASSERT_NEAR(out[static_cast<std::size_t>(j)], ref[static_cast<std::size_t>(j)],
                            1e-3f * (1 + std::fabs(ref[static_cast<std::size_t>(j)])))
                    << "s=" << s << " n=" << n;
        }
    }
}

// Weighted SYRK: the upper triangle against the scalar reference; the AVX-512 tiles (s = 16..128,
// every tile height and block count), the portable path (s = 20, 144); zero weights skipped.
TEST(AlsKernels, WeightedSyrkMatchesReference) {
    std::mt19937 rng(11);
    std::normal_distribution<float> g;
    for (std::int64_t s : {16, 20, 32, 48, 64, 80, 112, 128, 144}) {
        for (std::int64_t k : {std::int64_t{1}, std::int64_t{5}, s - 3, s}) {
            if (k < 1 || k > s) continue;
            for (std::int64_t n : {0, 1, 2, 7, 33}) {
                std::vector<float> G(static_cast<std::size_t>(std::max<std::int64_t>(n, 1) * s)), w(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
                for (auto& e : G) e = g(rng);
                for (std::size_t i = 0; i < w.size(); ++i) w[i] = i % 3 == 1 ? 0.0f : g(rng);
                std::vector<float> A(static_cast<std::size_t>(s * s)), ref;
                for (auto& e : A) e = g(rng);
                ref = A;
                kernels::weighted_syrk(G.data(), n, k, s, w.data(), A.data());
                kernels::ref::weighted_syrk(G.data(), n, k, s, w.data(), ref.data());
                for (std::int64_t r = 0; r < k; ++r)
                    for (std::int64_t c = r; c < k; ++c) {
                        const float want = ref[static_cast<std::size_t>(r * s + c)];
                        ASSERT_NEAR(A[static_cast<std::size_t>(r * s + c)], want, 1e-4f * (1 + std::fabs(want)))
                            << "s=" << s << " k=" << k << " n=" << n << " at " << r << "," << c;
                    }
                // Rows at and past k (b's row, padding) are never touched.
                for (std::int64_t r = k; r < s; ++r)
                    for (std::int64_t c = 0; c < s; ++c)
                        ASSERT_EQ(A[static_cast<std::size_t>(r * s + c)], ref[static_cast<std::size_t>(r * s + c)]);
            }
        }
    }
    std::vector<float> G = {1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, w = {2}, out(16, 1.0f);
    kernels::weighted_sum(G.data(), 1, 16, w.data(), out.data());
    EXPECT_EQ(out[0], 3.0f);
    EXPECT_EQ(out[3], 9.0f);
    EXPECT_EQ(out[4], 1.0f);
}

// The in-place Cholesky solve against a double-precision textbook solve, on SPD matrices of every
// size around the 4-column blocks and 16-float vectors; the residual of A x = b is small; a
// non-positive-definite matrix is refused with x untouched.
TEST(AlsKernels, CholeskySolveMatchesReference) {
    std::mt19937 rng(12);
    std::normal_distribution<float> g;
    for (std::int64_t k : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128}) {
        for (std::int64_t s : {(k + 15) / 16 * 16, (k + 15) / 16 * 16 + 16, k + 3}) {
            // A = B B^T / k + 0.1 I (well conditioned), b random
            std::vector<float> B(static_cast<std::size_t>(k * k));
            for (auto& e : B) e = g(rng);
            std::vector<float> A(static_cast<std::size_t>(k * s), 7.0f), b(static_cast<std::size_t>(s), 3.0f);  // junk below the diagonal
            for (std::int64_t r = 0; r < k; ++r)
                for (std::int64_t c = r; c < k; ++c) {
                    double v = r == c ? 0.1 : 0.0;
                    for (std::int64_t t = 0; t < k; ++t)
                        v += static_cast<double>(B[static_cast<std::size_t>(r * k + t)]) * B[static_cast<std::size_t>(c * k + t)] / static_cast<double>(k);
                    A[static_cast<std::size_t>(r * s + c)] = static_cast<float>(v);
                }
            for (std::int64_t j = 0; j < k; ++j) b[static_cast<std::size_t>(j)] = g(rng);
            const std::vector<float> original = A, original_b = b;
            std::vector<float> x(static_cast<std::size_t>(s), -1.0f), want(static_cast<std::size_t>(k));
            std::vector<float> copy = A, copy_b = b;
            ASSERT_TRUE(kernels::ref::cholesky_solve(copy.data(), k, s, copy_b.data(), want.data()));
            ASSERT_TRUE(kernels::cholesky_solve(A.data(), k, s, b.data(), x.data())) << "k=" << k << " s=" << s;
            double scale = 0;
            for (float v : want) scale = std::max(scale, std::fabs(static_cast<double>(v)));
            for (std::int64_t j = 0; j < k; ++j)
                ASSERT_NEAR(x[static_cast<std::size_t>(j)], want[static_cast<std::size_t>(j)], 2e-3 * (1 + scale)) << "k=" << k << " s=" << s << " j=" << j;
            for (std::int64_t j = k; j < s; ++j) ASSERT_EQ(x[static_cast<std::size_t>(j)], -1.0f);  // padding untouched
            double worst = 0, bnorm = 0;
            for (std::int64_t r = 0; r < k; ++r) {
                double v = -original_b[static_cast<std::size_t>(r)];
                for (std::int64_t c = 0; c < k; ++c) {
                    const auto up = r <= c ? r * s + c : c * s + r;
                    v += static_cast<double>(original[static_cast<std::size_t>(up)]) * x[static_cast<std::size_t>(c)];
                }
                worst = std::max(worst, std::fabs(v));
                bnorm = std::max(bnorm, std::fabs(static_cast<double>(original_b[static_cast<std::size_t>(r)])));
            }
            EXPECT_LT(worst, 1e-3 * (1 + bnorm)) << "k=" << k << " s=" << s;
        }
    }
    // Indefinite: diag(1, -1).
    std::vector<float> A = {1, 0, 0, 0, 0, -1, 0, 0}, b = {1, 1, 0, 0}, x(4, 5.0f);
    EXPECT_FALSE(kernels::cholesky_solve(A.data(), 2, 4, b.data(), x.data()));
    EXPECT_EQ(x[0], 5.0f);
    std::vector<float> B = {1, 0, 0, 0, 0, -1, 0, 0};
    EXPECT_FALSE(kernels::ref::cholesky_solve(B.data(), 2, 4, b.data(), x.data()));
}

// The batched solve: sixteen systems of every size around the blocks (and strides that take the
// portable path), two unused lanes and one indefinite system among them. Each answer matches the
// double-precision reference, the indefinite lane is reported with its x untouched, padding stays,
// and a lane's answer does not depend on its neighbours (bit for bit).
TEST(AlsKernels, CholeskySolve16MatchesReference) {
    std::mt19937 rng(16);
    std::normal_distribution<float> g;
    for (std::int64_t k : {1, 2, 3, 4, 5, 7, 16, 17, 31, 33, 64, 65, 100, 128}) {
        for (std::int64_t s : {(k + 15) / 16 * 16, (k + 15) / 16 * 16 + 16, k + 3}) {
            // Lane l: A_l = B B^T / k + 0.1 I in rows 0..k-1, b_l in row k (the layout ALS builds).
            std::vector<std::vector<float>> sys(16);
            for (auto& m : sys) {
                m.assign(static_cast<std::size_t>((k + 1) * s), 7.0f);  // junk below the diagonal and in padding
                std::vector<float> B(static_cast<std::size_t>(k * k));
                for (auto& e : B) e = g(rng);
                for (std::int64_t r = 0; r < k; ++r)
                    for (std::int64_t c = r; c < k; ++c) {
                        double v = r == c ? 0.1 : 0.0;
                        for (std::int64_t t = 0; t < k; ++t)
                            v += static_cast<double>(B[static_cast<std::size_t>(r * k + t)]) *
                                 B[static_cast<std::size_t>(c * k + t)] / static_cast<double>(k);
                        m[static_cast<std::size_t>(r * s + c)] = static_cast<float>(v);
                    }
                for (std::int64_t j = 0; j < s; ++j) m[static_cast<std::size_t>(k * s + j)] = j < k ? g(rng) : 0.0f;
            }
            constexpr int kBad = 7;  // indefinite: its last diagonal entry made negative
            sys[kBad][static_cast<std::size_t>((k - 1) * s + k - 1)] = -1.0f;
            const auto original = sys;
            std::vector<std::vector<float>> x(16, std::vector<float>(static_cast<std::size_t>(s), -1.0f));
            float *A[16], *b[16], *xp[16];
            for (int l = 0; l < 16; ++l) {
                const bool unused = l == 5 || l == 11;
                A[l] = unused ? nullptr : sys[static_cast<std::size_t>(l)].data();
                b[l] = unused ? nullptr : A[l] + k * s;
                xp[l] = unused ? nullptr : x[static_cast<std::size_t>(l)].data();
            }
            std::vector<float> scratch(static_cast<std::size_t>(kernels::cholesky_solve16_scratch(k)) + 16);
            float* aligned = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch.data()) + 63) / 64 * 64);
            const std::uint32_t failed = kernels::cholesky_solve16(A, k, s, b, xp, aligned);
            EXPECT_EQ(failed, 1u << kBad) << "k=" << k << " s=" << s;
            for (int l = 0; l < 16; ++l) {
                if (!A[l]) continue;
                const auto& xl = x[static_cast<std::size_t>(l)];
                if (l == kBad) {
                    for (float v : xl) ASSERT_EQ(v, -1.0f);
                    continue;
                }
                auto m = original[static_cast<std::size_t>(l)];
                std::vector<float> want(static_cast<std::size_t>(k));
                ASSERT_TRUE(kernels::ref::cholesky_solve(m.data(), k, s, m.data() + k * s, want.data()));
                double scale = 0;
                for (float v : want) scale = std::max(scale, std::fabs(static_cast<double>(v)));
                for (std::int64_t j = 0; j < k; ++j)
                    ASSERT_NEAR(xl[static_cast<std::size_t>(j)], want[static_cast<std::size_t>(j)], 2e-3 * (1 + scale))
                        << "k=" << k << " s=" << s << " lane " << l << " j=" << j;
                for (std::int64_t j = k; j < s; ++j) ASSERT_EQ(xl[static_cast<std::size_t>(j)], -1.0f);
            }
            // Lane 0's system alone (every other lane unused) gives the same bits.
            auto alone = original[0];
            std::vector<float> x0(static_cast<std::size_t>(s), -1.0f);
            float *A1[16] = {}, *b1[16] = {}, *x1[16] = {};
            A1[0] = alone.data();
            b1[0] = alone.data() + k * s;
            x1[0] = x0.data();
            EXPECT_EQ(kernels::cholesky_solve16(A1, k, s, b1, x1, aligned), 0u);
            EXPECT_EQ(x0, x[0]) << "k=" << k << " s=" << s;
        }
    }
}

// The gather with the right-hand side fused: rows copied, weights derived from the confidences, and
// sum += a_i g_i in the same order (so bit for bit) as weighted_sum over the gathered block.
TEST(AlsKernels, GatherRowsWeighted) {
    const std::int64_t s = 32;
    std::vector<float> src(10 * s);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 97) * 0.37f - 3.0f;
    std::vector<std::int32_t> idx = {9, 0, 3, 3, 7, 1, 2, 8, 5, 6, 4};
    std::vector<float> conf = {1.0f, 3.5f, -2.0f, 0.25f, 40.0f, 1.0f, -1.0f, 2.0f, 7.0f, 1.5f, 0.0f};
    const auto n = static_cast<std::int64_t>(idx.size());
    std::vector<float> G(static_cast<std::size_t>(n * s)), w(idx.size()), a(idx.size()), sum(s, 0.5f), want(s, 0.5f);
    kernels::gather_rows_weighted(src.data(), s, idx.data(), conf.data(), n, G.data(), w.data(), a.data(), sum.data());
    for (std::size_t i = 0; i < idx.size(); ++i) {
        for (std::int64_t j = 0; j < s; ++j) ASSERT_EQ(G[i * s + j], src[idx[i] * s + j]);
        EXPECT_EQ(w[i], std::fabs(conf[i]) - 1.0f);
        EXPECT_EQ(a[i], std::max(conf[i], 0.0f));
    }
    kernels::weighted_sum(G.data(), n, s, a.data(), want.data());
    EXPECT_EQ(sum, want);
    // Without a sum: the same gather.
    std::vector<float> G2(G.size());
    kernels::gather_rows_weighted(src.data(), s, idx.data(), conf.data(), n, G2.data(), w.data(), a.data(), nullptr);
    EXPECT_EQ(G2, G);
}

TEST(AlsKernels, HalfFloatConversion) {
    // Known encodings, including the rounding edges of IEEE binary16.
    const std::pair<float, std::uint16_t> known[] = {
        {0.0f, 0x0000},     {-0.0f, 0x8000},          {1.0f, 0x3C00},          {-2.0f, 0xC000},
        {0.1f, 0x2E66},     {65504.0f, 0x7BFF},       {65519.0f, 0x7BFF},      {65520.0f, 0x7C00},
        {1e10f, 0x7C00},    {0x1p-14f, 0x0400},       {0x1p-24f, 0x0001},      {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001}, {0x1.8p-24f, 0x0002},   {0x1.002p0f, 0x3C00},    {0x1.006p0f, 0x3C02},
        {0x1.003p0f, 0x3C01}, {-std::numeric_limits<float>::infinity(), 0xFC00}};
    for (auto [f, h] : known) EXPECT_EQ(kernels::float_to_half(f), h) << f;
    EXPECT_TRUE(std::isnan(kernels::half_to_float(kernels::float_to_half(std::nanf("")))));
    // Every half survives half -> float -> half (NaNs stay NaN); the float is exact.
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const float f = kernels::half_to_float(static_cast<std::uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_EQ(h & 0x7C00u, 0x7C00u);
            continue;
        }
        ASSERT_EQ(kernels::float_to_half(f), h) << std::hex << h;
    }
    // The vector conversions (AVX-512 where built) agree with the scalar ones on random floats of
    // every magnitude, and rounding is to nearest: |f - half(f)| <= half an ulp.
    std::mt19937 rng(11);
    std::vector<float> f(1000);
    for (auto& x : f) {
        std::uint32_t bits = rng() & 0x8FFFFFFFu;  // sign and exponents up to ~2^17
        std::memcpy(&x, &bits, sizeof x);
    }
    std::vector<std::uint16_t> h(f.size());
    std::vector<float> back(f.size());
    kernels::floats_to_halves(f.data(), h.data(), static_cast<std::int64_t>(f.size()));
    kernels::halves_to_floats(h.data(), back.data(), static_cast<std::int64_t>(h.size()));
    for (std::size_t i = 0; i < f.size(); ++i) {
        ASSERT_EQ(h[i], kernels::float_to_half(f[i])) << f[i];
        ASSERT_EQ(back[i], kernels::half_to_float(h[i]));
        if (std::fabs(f[i]) < 65504.0f && std::fabs(f[i]) >= 0x1p-14f) {
            ASSERT_LE(std::fabs(f[i] - back[i]), std::ldexp(std::fabs(f[i]), -11)) << f[i];
        }
    }
}

TEST(AlsKernels, CgUpdateIsTheTwoAxpysAndTheDot) {
    std::mt19937 rng(13);
    std::normal_distribution<float> g;
    for (std::int64_t s : {16, 20, 48, 64, 128}) {
        std::vector<float> p(static_cast<std::size_t>(s)), ap(p.size()), x(p.size()), r(p.size());
        for (auto* v : {&p, &ap, &x, &r})
            for (auto& e : *v) e = g(rng);
        auto x2 = x, r2 = r;
        const float alpha = 0.37f;
        const float rr = kernels::cg_update(alpha, p.data(), ap.data(), x.data(), r.data(), s);
        kernels::axpy(alpha, p.data(), x2.data(), s);
        kernels::axpy(-alpha, ap.data(), r2.data(), s);
        EXPECT_EQ(x, x2) << s;
        EXPECT_EQ(r, r2) << s;
        EXPECT_EQ(rr, kernels::cg_dot(r2.data(), r2.data(), s)) << s;
    }
}

TEST(AlsKernels, PassesWithTheMatrixProduct) {
    // Given M the passes overwrite out with wscale M v + the rows' sum: the same as symv, scale and
    // the plain pass. Also the half-precision gather: the rows it reads are the halves' floats.
    std::mt19937 rng(12);
    std::normal_distribution<float> g;
    const std::int64_t rows = 40;
    for (std::int64_t s : {16, 20, 24, 48, 64, 128, 144}) {
        const std::int64_t k = s - 3;
        std::vector<float> M(static_cast<std::size_t>(s * s), 0.0f), v(static_cast<std::size_t>(s), 0.0f);
        for (std::int64_t i = 0; i < k; ++i) {
            v[static_cast<std::size_t>(i)] = g(rng);
            for (std::int64_t j = 0; j <= i; ++j)
                M[static_cast<std::size_t>(i * s + j)] = M[static_cast<std::size_t>(j * s + i)] = g(rng);
        }
        std::vector<float> Y(static_cast<std::size_t>(rows * s), 0.0f);
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = 0; j < k; ++j) Y[static_cast<std::size_t>(i * s + j)] = g(rng);
        std::vector<std::uint16_t> Yh(Y.size());
        kernels::floats_to_halves(Y.data(), Yh.data(), static_cast<std::int64_t>(Y.size()));
        std::vector<float> Yr(Y.size());
        kernels::halves_to_floats(Yh.data(), Yr.data(), static_cast<std::int64_t>(Y.size()));
        for (std::int64_t n : {0, 1, 3, 4, 5, 8, 9, 33}) {
            std::vector<std::int32_t> idx(static_cast<std::size_t>(n));
            std::vector<float> conf(static_cast<std::size_t>(n));
            for (std::int64_t i = 0; i < n; ++i) {
                idx[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(rng() % rows);
                conf[static_cast<std::size_t>(i)] = i % 5 == 4 ? -2.5f : 0.5f + static_cast<float>(i % 7);
            }
            for (bool half : {false, true}) {
                const auto& src = half ? Yr : Y;
                std::vector<float> G(static_cast<std::size_t>(n * s)), w(static_cast<std::size_t>(n)),
                    a(static_cast<std::size_t>(n));
                for (std::int64_t i = 0; i < n; ++i) {
                    for (std::int64_t j = 0; j < s; ++j)
                        G[static_cast<std::size_t>(i * s + j)] =
                            src[static_cast<std::size_t>(idx[static_cast<std::size_t>(i)] * s + j)];
                    const float c = conf[static_cast<std::size_t>(i)];
                    w[static_cast<std::size_t>(i)] = std::fabs(c) - 1.0f;
                    a[static_cast<std::size_t>(i)] = c > 0 ? c : 0.0f;
                }
                for (float wscale : {-1.0f, 1.0f}) {
                    std::vector<float> ref(static_cast<std::size_t>(s));
                    kernels::ref::symv(M.data(), k, s, v.data(), ref.data());
                    for (auto& e : ref) e *= wscale;
                    kernels::ref::weighted_rank1_pass(G.data(), n, s, w.data(), wscale < 0 ? a.data() : nullptr,
                                                      wscale, v.data(), ref.data());
                    auto check = [&](const std::vector<float>& out, const char* what) {
                        for (std::int64_t j = 0; j < s; ++j)
                            ASSERT_NEAR(out[static_cast<std::size_t>(j)], ref[static_cast<std::size_t>(j)],
                                        1e-4f * (1 + std::fabs(ref[static_cast<std::size_t>(j)])))
                                << what << " s=" << s << " n=" << n << " half=" << half << " wscale=" << wscale;
                    };
                    std::vector<float> out(static_cast<std::size_t>(s), 7.0f);  // overwritten
                    kernels::weighted_rank1_pass(G.data(), n, s, w.data(), wscale < 0 ? a.data() : nullptr, wscale,
                                                 v.data(), out.data(), M.data(), k);
                    check(out, "pass");
                    if (wscale > 0) continue;  // the gathers are residual passes (with a)
                    std::vector<float> G2(G.size() + 1, -1.0f), w2(w.size() + 1, -1.0f), a2(a.size() + 1, -1.0f);
                    std::fill(out.begin(), out.end(), 7.0f);
                    if (half)
                        kernels::gather_rank1_pass_half(Yh.data(), s, idx.data(), conf.data(), n, G2.data(),
                                                        w2.data(), a2.data(), wscale, v.data(), out.data(), M.data(), k);
                    else
                        kernels::gather_rank1_pass(Y.data(), s, idx.data(), conf.data(), n, G2.data(), w2.data(),
                                                   a2.data(), wscale, v.data(), out.data(), M.data(), k);
                    check(out, "gather");
                    for (std::int64_t i = 0; i < n * s; ++i)
                        ASSERT_EQ(G2[static_cast<std::size_t>(i)], G[static_cast<std::size_t>(i)]);
                    for (std::int64_t i = 0; i < n; ++i) {
                        ASSERT_EQ(w2[static_cast<std::size_t>(i)], w[static_cast<std::size_t>(i)]);
                        ASSERT_EQ(a2[static_cast<std::size_t>(i)], a[static_cast<std::size_t>(i)]);
                    }
                    EXPECT_EQ(G2.back(), -1.0f);  // exactly n rows written
                    EXPECT_EQ(w2.back(), -1.0f);
                    if (half) {  // the chunked path's gather from halves
                        std::vector<float> G3(G.size()), w3(w.size()), a3(a.size());
                        kernels::gather_rows_weighted(Yh.data(), s, idx.data(), conf.data(), n, G3.data(), w3.data(),
                                                      a3.data(), nullptr);
                        EXPECT_EQ(G3, G);
                        EXPECT_EQ(w3, w);
                        EXPECT_EQ(a3, a);
                    }
                }
            }
        }
    }
}

// ---- the solvers ----
// ---- the solvers ----

TEST(AlsSolve, CholeskySatisfiesNormalEquations) {
    auto p = random_problem(60, 40, 0.15, 1);
    auto o = options(AlsSolver::cholesky, 8, 2, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);  // gives Y some structure first
    als_update(p.by_user, Y, X, o);
    for (std::int64_t u = 0; u < X.rows(); ++u) {
        double rel = normal_equation_residual(p.by_user, Y, X.row(u), o.regularization, u);
        if (p.by_user.row_nnz(u) > 0) {
            EXPECT_LT(rel, 1e-4) << "user " << u;
        }
    }
    // padding stays zero
    for (std::int64_t u = 0; u < X.rows(); ++u)
        for (std::int64_t j = X.cols(); j < X.stride(); ++j) ASSERT_EQ(X(u, j), 0.0f);
}

TEST(AlsSolve, ChunkedRowsGiveTheSameSolution) {
    // Rows longer than the per-thread block are re-gathered chunk by chunk: the same equations, so
    // the same solution up to summation order (one half-step: repeated CG steps amplify rounding).
    auto p = random_problem(60, 40, 0.3, 2);
    auto o = options(AlsSolver::cholesky, 8, 2, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    for (auto solver : {AlsSolver::cholesky, AlsSolver::cg})
        for (bool half : {true, false}) {
            o.solver = solver;
            o.half_gather = half;
            if (std::getenv("STEPS")) o.cg_steps = std::atoi(std::getenv("STEPS"));
            Matrix whole = X.clone(), chunked = X.clone();
            o.block_rows = 0;
            als_update(p.by_user, Y, whole, o);
            o.block_rows = 3;
            als_update(p.by_user, Y, chunked, o);
            EXPECT_LT(max_abs_diff(whole, chunked), 1e-5 * max_abs(whole)) << als_solver_name(solver) << " " << half;
        }
}

TEST(AlsSolve, HalfGatherChangesCgOnlyByRounding) {
    // CG reading half-precision rows solves equations whose factor rows are rounded by at most 2^-11
    // relative: one half-step lands within a few of those roundings of the float32 result, and
    // training converges to the same loss.
    auto p = random_problem(80, 60, 0.2, 5);
    auto o = options(AlsSolver::cg, 16, 4, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    Matrix half = X.clone(), full = X.clone();
    o.half_gather = true;
    als_update(p.by_user, Y, half, o);
    o.half_gather = false;
    als_update(p.by_user, Y, full, o);
    EXPECT_GT(max_abs_diff(half, full), 0.0);  // the option does something
    EXPECT_LT(max_abs_diff(half, full), 1e-2 * max_abs(full));
    o.iterations = 10;
    double loss[2];
    for (bool h : {true, false}) {
        o.half_gather = h;
        Matrix Xh, Yh;
        loss[h] = train_for_loss(p, o, Xh, Yh);
    }
    EXPECT_NEAR(loss[1], loss[0], 1e-3 * loss[0]);
}

// ALS with CG as the textbook algorithm in double precision (dense matrices; implicit's stopping rules).
// precondition: z = M^-1 r for M = Y^T Y + lambda I (what the eigenvalue preconditioner is in the
// original basis).
void reference_cg_half_step(const Csr& cui, const Eigen::MatrixXd& Y, Eigen::MatrixXd& X, double lambda, int steps,
                            bool precondition) {
    Eigen::MatrixXd M = Y.transpose() * Y;
    M.diagonal().array() += lambda;
    const Eigen::LDLT<Eigen::MatrixXd> Minv(M);
    auto z_of = [&](const Eigen::VectorXd& r) -> Eigen::VectorXd { return precondition ? Minv.solve(r) : r; };
    for (std::int64_t u = 0; u < cui.rows; ++u) {
        Eigen::MatrixXd A = M;
        Eigen::VectorXd b = Eigen::VectorXd::Zero(Y.cols());
        auto idx = cui.row_indices(u);
        auto val = cui.row_values(u);
        for (std::size_t j = 0; j < idx.size(); ++j) {
            const Eigen::VectorXd y = Y.row(idx[j]).transpose();
            const double c = val[j];
            A += (std::fabs(c) - 1) * y * y.transpose();
            if (c > 0) b += c * y;
        }
        Eigen::VectorXd x = X.row(u).transpose(), r = b - A * x, p = z_of(r);
        double rz = r.dot(p);
        for (int it = 0; it < steps && r.dot(r) >= 1e-20; ++it) {
            const Eigen::VectorXd ap = A * p;
            const double pap = p.dot(ap);
            if (!(pap > 0)) break;
            x += rz / pap * p;
            r -= rz / pap * ap;
            if (r.dot(r) < 1e-20) break;
            const Eigen::VectorXd z = z_of(r);
            const double rz_new = r.dot(z);
            p = z + rz_new / rz * p;
            rz = rz_new;
        }
        X.row(u) = x.transpose();
    }
}

Eigen::MatrixXd to_dense(const Matrix& m) {
    Eigen::MatrixXd d(m.rows(), m.cols());
    for (std::int64_t i = 0; i < m.rows(); ++i)
        for (std::int64_t j = 0; j < m.cols(); ++j) d(i, j) = m(i, j);
    return d;
}

TEST(AlsSolve, EigenbasisIsAsCloseToDoubleCgAsTheOriginalBasis) {
    // CG in the eigenbasis of the fixed side's Gram matrix rotates both factor matrices by the same
    // orthogonal map every half-step: the factors change, the scores x.y do not (CG is
    // rotation-invariant). Float32 CG on these systems (bm25-like weights below 1 make some of them
    // ill-conditioned) is some 1e-2 off exact arithmetic in either basis, so both are held to a
    // double-precision CG from the same start. (Plain CG here; the preconditioned one below.)
    auto p = random_problem(80, 60, 0.2, 5);
    for (int factors : {16, 10}) {  // 10: the padding columns must stay zero
        for (bool half : {false, true}) {
            SCOPED_TRACE(fmt::format("{} factors, half gather {}", factors, half));
            auto o = options(AlsSolver::cg, factors, 0, 2);
            o.half_gather = half;
            o.cg_precondition = false;
            Matrix X0, Y0;
            train_als(p.by_user, p.by_item, o, X0, Y0);  // the initial factors
            Eigen::MatrixXd Xr = to_dense(X0), Yr = to_dense(Y0);
            o.iterations = 3;
            for (int it = 0; it < o.iterations; ++it) {
                reference_cg_half_step(p.by_user, Yr, Xr, o.regularization, o.cg_steps, false);
                reference_cg_half_step(p.by_item, Xr, Yr, o.regularization, o.cg_steps, false);
            }
            const Eigen::MatrixXd scores = Xr * Yr.transpose();
            const double top = scores.cwiseAbs().maxCoeff();
            Matrix X[2], Y[2];
            double error[2], loss[2];
            for (int e : {0, 1}) {
                o.eigenbasis = e == 1;
                loss[e] = train_for_loss(p, o, X[e], Y[e]);
                error[e] = (to_dense(X[e]) * to_dense(Y[e]).transpose() - scores).cwiseAbs().maxCoeff();
            }
            EXPECT_GT(max_abs_diff(X[0], X[1]), 0.1 * max_abs(X[0]));  // really another basis
            EXPECT_LT(error[0], 3e-2 * top);
            EXPECT_LT(error[1], 3e-2 * top);
            EXPECT_NEAR(loss[1], loss[0], 1e-3 * loss[0]);
            // The last half-step solved the items in the users' eigenbasis: X^T X is diagonal.
            const Eigen::MatrixXd gram = to_dense(X[1]).transpose() * to_dense(X[1]);
            const double diagonal = gram.diagonal().cwiseAbs().maxCoeff();
            Eigen::MatrixXd off = gram;
            off.diagonal().setZero();
            EXPECT_LT(off.cwiseAbs().maxCoeff(), 1e-4 * diagonal);
            for (int e : {0, 1})
                for (const Matrix* m : {&X[e], &Y[e]})
                    for (std::int64_t r = 0; r < m->rows(); ++r)
                        for (std::int64_t j = factors; j < m->stride(); ++j) ASSERT_EQ((*m)(r, j), 0.0f);
        }
    }
}

TEST(AlsSolve, PreconditionedCgMatchesDoublePrecisionReference) {
    // The eigenvalue preconditioner in the eigenbasis is M^-1 (M = Y^T Y + lambda I) in any basis:
    // the scores match a double-precision CG preconditioned by M^-1, and differ from plain CG's.
    auto p = random_problem(80, 60, 0.2, 5);
    for (int factors : {16, 10}) {
        SCOPED_TRACE(fmt::format("{} factors", factors));
        auto o = options(AlsSolver::cg, factors, 0, 2);
        o.half_gather = false;
        Matrix X0, Y0;
        train_als(p.by_user, p.by_item, o, X0, Y0);
        o.iterations = 3;
        Eigen::MatrixXd scores[2];
        for (bool pre : {false, true}) {
            Eigen::MatrixXd Xr = to_dense(X0), Yr = to_dense(Y0);
            for (int it = 0; it < o.iterations; ++it) {
                reference_cg_half_step(p.by_user, Yr, Xr, o.regularization, o.cg_steps, pre);
                reference_cg_half_step(p.by_item, Xr, Yr, o.regularization, o.cg_steps, pre);
            }
            scores[pre] = Xr * Yr.transpose();
        }
        const double top = scores[1].cwiseAbs().maxCoeff();
        ASSERT_GT((scores[1] - scores[0]).cwiseAbs().maxCoeff(), 0.1 * top);  // the preconditioner matters
        o.cg_precondition = true;
        Matrix X, Y;
        train_als(p.by_user, p.by_item, o, X, Y);
        // Unlike plain CG (~1e-2 off, above), the preconditioned systems are well conditioned: float32
        // lands within ~1e-6 of double precision.
        EXPECT_LT((to_dense(X) * to_dense(Y).transpose() - scores[1]).cwiseAbs().maxCoeff(), 1e-4 * top);
    }
}

TEST(AlsSolve, PreconditionedCgStaysFiniteOnSingularGramMatrices) {
    // lambda = 0 and fewer items than factors: Y^T Y is singular, its eigenvalues zero up to rounding.
    auto p = random_problem(30, 5, 0.5, 8);
    auto o = options(AlsSolver::cg, 8, 5, 2);
    o.regularization = 0.0f;
    double loss[2];
    for (bool pre : {false, true}) {
        o.cg_precondition = pre;
        Matrix X, Y;
        loss[pre] = train_for_loss(p, o, X, Y);
        for (const Matrix* m : {&X, &Y})
            for (std::int64_t r = 0; r < m->rows(); ++r)
                for (std::int64_t j = 0; j < m->cols(); ++j) ASSERT_TRUE(std::isfinite((*m)(r, j)));
    }
    EXPECT_LT(loss[1], 1.5 * loss[0] + 1e-6);
}

TEST(AlsSolve, CgWithManyStepsMatchesCholesky) {
    auto p = random_problem(60, 40, 0.15, 3);
    auto o = options(AlsSolver::cholesky, 8, 2, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    Matrix exact = X.clone();
    als_update(p.by_user, Y, exact, o);
    for (bool from_zero : {true, false}) {
        Matrix cg = from_zero ? Matrix(X.rows(), X.cols()) : X.clone();
        auto oc = o;
        oc.solver = AlsSolver::cg;
        oc.cg_steps = 3 * o.factors;
        als_update(p.by_user, Y, cg, oc);
        EXPECT_LT(max_abs_diff(cg, exact), 1e-3 * max_abs(exact)) << (from_zero ? "from zero" : "warm");
    }
    // A few steps warm-started already come close (what makes 3 steps per iteration enough).
    Matrix cg3 = X.clone();
    auto oc = o;
    oc.solver = AlsSolver::cg;
    oc.cg_steps = 3;
    als_update(p.by_user, Y, cg3, oc);
    EXPECT_LT(max_abs_diff(cg3, exact), max_abs_diff(X, exact));
}

TEST(AlsSolve, LossNeverIncreasesWithCholesky) {
    auto p = random_problem(60, 40, 0.15, 4);
    auto o = options(AlsSolver::cholesky, 8, 8, 2);
    o.compute_loss = true;
    Matrix X, Y;
    AlsReport report;
    train_als(p.by_user, p.by_item, o, X, Y, &report);
    ASSERT_EQ(report.loss.size(), 8u);
    for (std::size_t t = 1; t < report.loss.size(); ++t)
        EXPECT_LE(report.loss[t], report.loss[t - 1] * (1 + 1e-6)) << "iteration " << t;
    EXPECT_LT(report.loss.back(), report.loss.front());
    EXPECT_GT(report.seconds, 0.0);
}

TEST(AlsSolve, LossMatchesDenseBruteForce) {
    auto p = random_problem(30, 25, 0.2, 5);
    auto o = options(AlsSolver::cg, 6, 2, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    const float lambda = 0.3f;
    double loss = 0, total_c = 0, norms = 0;
    for (std::int64_t u = 0; u < X.rows(); ++u)
        for (std::int64_t i = 0; i < Y.rows(); ++i) {
            double v = p.by_user.at(u, static_cast<std::int32_t>(i));
            double c = v == 0 ? 1.0 : std::fabs(v), pref = v > 0 ? 1.0 : 0.0, s = 0;
            for (std::int64_t j = 0; j < X.cols(); ++j) s += double(X(u, j)) * Y(i, j);
            loss += c * (pref - s) * (pref - s);
            total_c += c;
        }
    for (const Matrix* m : {&X, &Y})
        for (std::int64_t r = 0; r < m->rows(); ++r)
            for (std::int64_t j = 0; j < m->cols(); ++j) norms += double((*m)(r, j)) * (*m)(r, j);
    double expected = (loss + lambda * norms) / total_c;
    EXPECT_NEAR(als_loss(p.by_user, X, Y, lambda, 2), expected, 1e-5 * expected);
    EXPECT_EQ(als_loss(p.by_user, X, Y, lambda, 1), als_loss(p.by_user, X, Y, lambda, 2));
}

TEST(AlsSolve, DeterministicForSeedAndAcrossThreadCounts) {
    // Each row's solve depends only on its own data and on a Gram matrix summed over a fixed
    // partition, so the thread count does not change a single bit.
    auto p = random_problem(80, 50, 0.15, 6);
    for (auto solver : {AlsSolver::cholesky, AlsSolver::cg}) {
        auto o = options(solver, 10, 3, 2);
        Matrix X1, Y1, X2, Y2, X3, Y3;
        train_als(p.by_user, p.by_item, o, X1, Y1);
        train_als(p.by_user, p.by_item, o, X2, Y2);
        EXPECT_TRUE(same_bits(X1, X2) && same_bits(Y1, Y2)) << als_solver_name(solver);
        o.threads = 1;
        train_als(p.by_user, p.by_item, o, X3, Y3);
        EXPECT_TRUE(same_bits(X1, X3) && same_bits(Y1, Y3)) << als_solver_name(solver);
        o.seed = 43;
        train_als(p.by_user, p.by_item, o, X3, Y3);
        EXPECT_FALSE(same_bits(Y1, Y3)) << als_solver_name(solver);
    }
}

TEST(AlsSolve, InitialisationIsUniformSmall) {
    // The factor matrices start uninitialized (Matrix::uninitialized): init_factors must write the
    // padding too. The sanitizer build fills fresh allocations with 0xbe, so a missed padding
    // write fails the zero check below there (checked by deleting that write).
    auto p = random_problem(40, 30, 0.1, 7);
    auto o = options(AlsSolver::cg, 12, 0, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    double sum = 0;
    for (const Matrix* m : {&X, &Y})
        for (std::int64_t r = 0; r < m->rows(); ++r)
            for (std::int64_t j = 0; j < m->stride(); ++j) {
                float v = (*m)(r, j);
                if (j >= m->cols()) {
                    ASSERT_EQ(v, 0.0f);
                    continue;
                }
                ASSERT_GE(v, 0.0f);
                ASSERT_LT(v, 0.01f);
                sum += v;
            }
    EXPECT_NEAR(sum / ((40 + 30) * 12), 0.005, 0.0005);
    EXPECT_FALSE(std::equal(X.row(0), X.row(0) + 12, Y.row(0)));  // user and item streams differ
}

TEST(AlsSolve, DislikeScoresBelowUnplayed) {
    // Users 0..9 play items 0, 1, 2 together; user 10 plays 0 and 1 and has not met item 2;
    // user 11 plays 0 and 1 and dislikes item 2. Items 3, 4 form a separate taste.
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    auto add = [&](int u, int i, float x) { r.push_back(u), c.push_back(i), v.push_back(x); };
    for (int u = 0; u < 10; ++u)
        for (int i = 0; i < 3; ++i) add(u, i, 10);
    for (int u = 12; u < 20; ++u)
        for (int i = 3; i < 5; ++i) add(u, i, 10);
    add(10, 0, 10), add(10, 1, 10);
    add(11, 0, 10), add(11, 1, 10), add(11, 2, -20);
    auto by_user = Csr::from_triplets(20, 5, r, c, v, 1);
    for (auto solver : {AlsSolver::cholesky, AlsSolver::cg}) {
        // Two factors for two tastes: no room to give user 10 a direction of its own.
        auto o = options(solver, 2, 10, 1);
        Matrix X, Y;
        train_als(by_user, by_user.transpose(1), o, X, Y);
        auto score = [&](int u, int i) { return kernels::ref::dot(X.row(u), Y.row(i), X.cols()); };
        EXPECT_GT(score(10, 2), 0.3f) << als_solver_name(solver);  // unplayed: recommended
        EXPECT_LT(score(11, 2), score(10, 2) - 0.3f) << als_solver_name(solver);
        EXPECT_LT(score(11, 2), score(11, 0)) << als_solver_name(solver);
    }
}

TEST(AlsSolve, PlantedGroupsAreNearestNeighbours) {
    // Two groups of users with disjoint item sets: every item's nearest neighbour by cosine is an
    // item of its own group.
    std::mt19937 rng(8);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    const int users = 100, items = 20;
    for (int u = 0; u < users; ++u) {
        int base = u < users / 2 ? 0 : items / 2;
        for (int i = base; i < base + items / 2; ++i)
            if (rng() % 10 < 6) r.push_back(u), c.push_back(i), v.push_back(1.0f + static_cast<float>(rng() % 20));
    }
    auto by_user = Csr::from_triplets(users, items, r, c, v, 1);
    for (auto solver : {AlsSolver::cholesky, AlsSolver::cg}) {
        // Enough regularization to shrink the components the fit does not need (with a tiny lambda an
        // item may keep leftovers of its random start that blur cosines across groups).
        auto o = options(solver, 8, 15, 2);
        o.regularization = 1.0f;
        Matrix X, Y;
        train_als(by_user, by_user.transpose(1), o, X, Y);
        for (int i = 0; i < items; ++i) {
            int best = -1;
            double best_cos = -2;
            for (int j = 0; j < items; ++j) {
                if (j == i) continue;
                double d = kernels::dot_double(Y.row(i), Y.row(j), Y.cols());
                double cosine = d / std::sqrt(kernels::dot_double(Y.row(i), Y.row(i), Y.cols()) *
                                              kernels::dot_double(Y.row(j), Y.row(j), Y.cols()));
                if (cosine > best_cos) best_cos = cosine, best = j;
            }
            EXPECT_EQ(best < items / 2, i < items / 2) << als_solver_name(solver) << " item " << i << " -> " << best;
        }
    }
}

TEST(AlsSolve, EmptyRowsGetZeroWithCholesky) {
    auto by_user = Csr::from_triplets(3, 3, std::vector<std::int32_t>{0, 2}, std::vector<std::int32_t>{1, 1},
                                      std::vector<float>{5, 5}, 1);
    auto o = options(AlsSolver::cholesky, 4, 2, 2);
    Matrix X, Y;
    train_als(by_user, by_user.transpose(1), o, X, Y);
    for (std::int64_t j = 0; j < X.cols(); ++j) EXPECT_EQ(X(1, j), 0.0f);
    EXPECT_GT(kernels::dot(X.row(0), Y.row(1), X.cols()), 0.5f);
}

TEST(AlsOptions, SolverNames) {
    EXPECT_EQ(parse_als_solver("cholesky"), AlsSolver::cholesky);
    EXPECT_EQ(parse_als_solver("cg"), AlsSolver::cg);
    EXPECT_EQ(als_solver_name(AlsSolver::cg), "cg");
    EXPECT_EQ(als_solver_name(AlsSolver::cholesky), "cholesky");
    try {
        parse_als_solver("lu");
        FAIL() << "expected OptionError";
    } catch (const OptionError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown ALS solver 'lu'"), std::string::npos) << e.what();
    }
}

TEST(AlsOptions, RejectsBadOptionsAndShapes) {
    auto p = random_problem(10, 8, 0.3, 9);
    Matrix X, Y;
    auto o = options(AlsSolver::cg, 4, 1, 1);
    o.factors = 0;
    EXPECT_THROW(train_als(p.by_user, p.by_item, o, X, Y), OptionError);
    o = options(AlsSolver::cg, 4, 1, 1);
    o.cg_steps = 0;
    EXPECT_THROW(train_als(p.by_user, p.by_item, o, X, Y), OptionError);
    o = options(AlsSolver::cg, 4, 1, 1);
    o.regularization = -1;
    EXPECT_THROW(train_als(p.by_user, p.by_item, o, X, Y), OptionError);
    o = options(AlsSolver::cg, 4, 1, 1);
    try {
        train_als(p.by_user, p.by_user, o, X, Y);  // not the transpose
        FAIL() << "expected Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not the transpose"), std::string::npos) << e.what();
    }
    train_als(p.by_user, p.by_item, o, X, Y);
    Matrix wrong(X.rows() + 1, X.cols());
    EXPECT_THROW(als_update(p.by_user, Y, wrong, o), Error);
    // fold-in with an item index outside the model
    auto gram = als_gram(Y, o.regularization, 1);
    std::vector<std::int32_t> items = {100};
    std::vector<float> conf = {1};
    std::vector<float> x(static_cast<std::size_t>(Y.cols()));
    EXPECT_THROW(als_solve_row(gram, Y, items, conf, x.data()), Error);
}

TEST(AlsSolve, SolveRowAgreesWithCholeskyUpdate) {
    auto p = random_problem(30, 25, 0.2, 10);
    auto o = options(AlsSolver::cholesky, 6, 2, 2);
    Matrix X, Y;
    train_als(p.by_user, p.by_item, o, X, Y);
    als_update(p.by_user, Y, X, o);  // users solved against the final item factors
    auto gram = als_gram(Y, o.regularization, 2);
    for (std::int64_t u = 0; u < 5; ++u) {
        std::vector<float> x(static_cast<std::size_t>(Y.cols()));
        als_solve_row(gram, Y, p.by_user.row_indices(u), p.by_user.row_values(u), x.data());
        for (std::int64_t j = 0; j < Y.cols(); ++j) EXPECT_NEAR(x[static_cast<std::size_t>(j)], X(u, j), 1e-4 * (1 + max_abs(X)));
    }
}

TEST(AlsSolve, GramIsIndependentOfThreads) {
    Matrix Y(20000, 24);
    std::mt19937 rng(12);
    std::normal_distribution<float> g;
    for (std::int64_t i = 0; i < Y.rows(); ++i)
        for (std::int64_t j = 0; j < Y.cols(); ++j) Y(i, j) = g(rng);
    auto a = als_gram(Y, 0.5f, 1), b = als_gram(Y, 0.5f, 2), c = als_gram(Y, 0.5f, 3);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, c);
    double d00 = 0;
    for (std::int64_t i = 0; i < Y.rows(); ++i) d00 += double(Y(i, 0)) * Y(i, 0);
    EXPECT_NEAR(a[0], d00 + 0.5, 1e-5 * d00);
    EXPECT_EQ(a[1], a[static_cast<std::size_t>(Y.cols())]);  // exactly symmetric
}

}  // namespace
}  // namespace encore
