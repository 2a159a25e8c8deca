#include "encore/retrieval/topk.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "encore/kernels/score_gemm.hpp"
#include "encore/kernels/topk_scan.hpp"
#include "encore/util/error.hpp"

namespace encore {
namespace {

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    Matrix m(rows, cols);
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) m(i, j) = nd(rng);
    return m;
}

// Reference: score every allowed, non-excluded target in double, full sort, take k.
std::vector<ScoredItem> brute_force(const Matrix& Q, std::int64_t q, const Matrix& T, const TopKFilter& filter,
                                    int k) {
    std::vector<std::int32_t> excluded;
    if (filter.excluded) {
        auto ex = filter.excluded(q);
        excluded.assign(ex.begin(), ex.end());
    }
    std::vector<ScoredItem> all;
    for (std::int64_t t = 0; t < T.rows(); ++t) {
        if (!filter.allowed.empty() && !filter.allowed[static_cast<std::size_t>(t)]) continue;
        if (std::binary_search(excluded.begin(), excluded.end(), static_cast<std::int32_t>(t))) continue;
        double s = 0;
        for (std::int64_t j = 0; j < T.cols(); ++j) s += static_cast<double>(Q(q, j)) * T(t, j);
        all.push_back({static_cast<std::int32_t>(t), static_cast<float>(s)});
    }
    std::sort(all.begin(), all.end(), [](const ScoredItem& a, const ScoredItem& b) {
        return a.score > b.score || (a.score == b.score && a.id < b.id);
    });
    all.resize(std::min<std::size_t>(all.size(), static_cast<std::size_t>(std::max(k, 0))));
    return all;
}

// Same ids in the same order and scores within float rounding of the reference.
void expect_matches(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
        EXPECT_NEAR(got[i].score, want[i].score, 1e-4f * (1 + std::fabs(want[i].score))) << "rank " << i;
    }
}

void expect_sorted_best_first(const std::vector<ScoredItem>& r) {
    for (std::size_t i = 1; i < r.size(); ++i)
        EXPECT_TRUE(r[i - 1].score > r[i].score || (r[i - 1].score == r[i].score && r[i - 1].id < r[i].id))
            << "rank " << i;
}

TEST(TopK, EqualsFullSortForManyK) {
    // 70 queries (several query blocks, the last one partial), 1100 targets (two full blocks of 512
    // and a partial one, not a multiple of the scan width), an odd dimension.
    auto Q = random_matrix(70, 13, 1);
    auto T = random_matrix(1100, 13, 2);
    for (int k : {0, 1, 5, 17, 100, 1100, 5000}) {
        auto r = top_k_rows(Q, T, {}, {.k = k, .threads = 2});
        ASSERT_EQ(r.size(), 70u);
        for (std::int64_t q = 0; q < Q.rows(); q += (k > 1000 ? 23 : 1)) {
            SCOPED_TRACE(testing::Message() << "k=" << k << " q=" << q);
            expect_matches(r[static_cast<std::size_t>(q)], brute_force(Q, q, T, {}, k));
        }
    }
}

TEST(TopK, BlockBoundarySizes) {
    for (std::int64_t nt : {1, 15, 16, 17, 511, 512, 513, 1025}) {
        for (std::int64_t nq : {1, 15, 16, 17, 255, 256, 257, 2049}) {
            auto Q = random_matrix(nq, 8, static_cast<std::uint32_t>(nt * 7 + nq));
            auto T = random_matrix(nt, 8, static_cast<std::uint32_t>(nt * 11 + nq));
            auto r = top_k_rows(Q, T, {}, {.k = 10, .threads = 2});
            ASSERT_EQ(r.size(), static_cast<std::size_t>(nq));
            for (std::int64_t q : {std::int64_t{0}, nq - 1}) {
                SCOPED_TRACE(testing::Message() << "nt=" << nt << " nq=" << nq << " q=" << q);
                expect_matches(r[static_cast<std::size_t>(q)], brute_force(Q, q, T, {}, 10));
            }
        }
    }
}

TEST(TopK, TiesGoToLowerId) {
    // Every target scores the same except a few; ties must be resolved by ascending id, including
    // across target blocks (3000 targets, several blocks).
    Matrix Q(2, 4);
    Q(0, 0) = 1;
    Q(1, 0) = -1;
    Matrix T(3000, 4);
    for (std::int64_t t = 0; t < T.rows(); ++t) T(t, 0) = 1.0f;
    T(2500, 0) = 2.0f;  // best for query 0, worst for query 1
    T(10, 0) = 0.5f;    // worst for query 0, best for query 1
    auto r = top_k_rows(Q, T, {}, {.k = 5, .threads = 1});
    ASSERT_EQ(r[0].size(), 5u);
    EXPECT_EQ(r[0][0].id, 2500);
    for (int i = 1; i < 5; ++i) EXPECT_EQ(r[0][static_cast<std::size_t>(i)].id, i - 1) << i;
    EXPECT_EQ(r[1][0].id, 10);
    EXPECT_FLOAT_EQ(r[1][0].score, -0.5f);
    std::vector<std::int32_t> want = {10, 0, 1, 2, 3};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(r[1][static_cast<std::size_t>(i)].id, want[static_cast<std::size_t>(i)]);
    // All equal: the k lowest ids.
    Matrix Z(1, 4);
    auto z = top_k_one(Z.row_span(0), T, {}, 4);
    ASSERT_EQ(z.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(z[static_cast<std::size_t>(i)].id, i);
}

TEST(TopK, AllowedAndExcludedGiveExactCounts) {
    auto Q = random_matrix(40, 6, 3);
    auto T = random_matrix(3000, 6, 4);
    std::mt19937 rng(5);
    std::vector<std::uint8_t> allowed(3000);
    for (auto& a : allowed) a = (rng() % 4 == 0);
    // Per query: a sorted excluded list, mixing allowed and disallowed ids; query q excludes q*50 ids.
    std::vector<std::vector<std::int32_t>> excluded(40);
    for (std::size_t q = 0; q < excluded.size(); ++q) {
        for (std::int32_t t = 0; t < 3000; ++t)
            if (rng() % 40 < q) excluded[q].push_back(t);
    }
    TopKFilter filter;
    filter.allowed = allowed;
    filter.excluded = [&](std::int64_t q) -> std::span<const std::int32_t> {
        return excluded[static_cast<std::size_t>(q)];
    };
    for (int k : {1, 10, 500, 3000}) {
        auto r = top_k_rows(Q, T, filter, {.k = k, .threads = 2});
        for (std::int64_t q = 0; q < Q.rows(); ++q) {
            SCOPED_TRACE(testing::Message() << "k=" << k << " q=" << q);
            const auto& got = r[static_cast<std::size_t>(q)];
            std::size_t available = 0;
            for (std::int32_t t = 0; t < 3000; ++t)
                available += allowed[static_cast<std::size_t>(t)] &&
                             !std::binary_search(excluded[static_cast<std::size_t>(q)].begin(),
                                                 excluded[static_cast<std::size_t>(q)].end(), t);
            EXPECT_EQ(got.size(), std::min<std::size_t>(static_cast<std::size_t>(k), available));
            expect_matches(got, brute_force(Q, q, T, filter, k));
        }
    }
    // The single-query path applies the same filter (without compaction).
    for (std::int64_t q : {0, 17, 39})
        expect_matches(top_k_one(Q.row_span(q), T, filter, 25, q), brute_force(Q, q, T, filter, 25));
}

TEST(TopK, NothingAllowedGivesEmptyResults) {
    auto Q = random_matrix(20, 4, 6);
    auto T = random_matrix(100, 4, 7);
    std::vector<std::uint8_t> none(100, 0);
    TopKFilter filter;
    filter.allowed = none;
    for (auto& r : top_k_rows(Q, T, filter, {.k = 5, .threads = 2})) EXPECT_TRUE(r.empty());
    auto empty_targets = Matrix(0, 4);
    for (auto& r : top_k_rows(Q, empty_targets, {}, {.k = 5, .threads = 2})) EXPECT_TRUE(r.empty());
}

TEST(TopK, OneAndTwoThreadsIdentical) {
    auto Q = random_matrix(300, 32, 8);
    auto T = random_matrix(5000, 32, 9);
    auto a = top_k_rows(Q, T, {}, {.k = 20, .threads = 1});
    auto b = top_k_rows(Q, T, {}, {.k = 20, .threads = 2});
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t q = 0; q < a.size(); ++q) {
        ASSERT_EQ(a[q].size(), 20u);
        ASSERT_EQ(b[q].size(), 20u);
        for (std::size_t i = 0; i < a[q].size(); ++i) {
            EXPECT_EQ(a[q][i].id, b[q][i].id);
            EXPECT_EQ(a[q][i].score, b[q][i].score);
        }
        expect_sorted_best_first(a[q]);
    }
}

TEST(TopK, SingleQueryMatchesRows) {
    auto Q = random_matrix(3, 10, 10);
    auto T = random_matrix(2500, 10, 11);
    auto rows = top_k_rows(Q, T, {}, {.k = 15, .threads = 2});
    for (std::int64_t q = 0; q < 3; ++q) {
        auto one = top_k_one(Q.row_span(q), T, {}, 15, q);
        expect_matches(one, rows[static_cast<std::size_t>(q)]);
    }
}

TEST(TopK, NanScoresRankLastAndCountsHold) {
    Matrix Q(1, 2);
    Q(0, 0) = 1;
    Matrix T(40, 2);
    for (std::int64_t t = 0; t < 40; ++t) T(t, 0) = static_cast<float>(t);
    T(39, 0) = std::numeric_limits<float>::quiet_NaN();
    auto r = top_k_one(Q.row_span(0), T, {}, 40);
    ASSERT_EQ(r.size(), 40u);
    EXPECT_EQ(r[0].id, 38);
    EXPECT_EQ(r[39].id, 39);
    EXPECT_EQ(r[39].score, -std::numeric_limits<float>::infinity());
}

TEST(TopK, RejectsMismatchedShapes) {
    auto Q = random_matrix(2, 4, 14);
    auto T = random_matrix(10, 5, 15);
    EXPECT_THROW(top_k_rows(Q, T, {}, {.k = 3}), Error);
    auto T4 = random_matrix(10, 4, 16);
    std::vector<std::uint8_t> wrong(9, 1);
    TopKFilter filter;
    filter.allowed = wrong;
    try {
        top_k_rows(Q, T4, filter, {.k = 3});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("allowed mask has 9 entries for 10 targets"), std::string::npos);
    }
    std::vector<float> short_query(3);
    EXPECT_THROW(top_k_one(short_query, T4, {}, 3), Error);
}

TEST(TopK, NormalizedRowsUnitLengthZeroRowsStayZero) {
    auto M = random_matrix(50, 7, 17);
    for (std::int64_t j = 0; j < 7; ++j) M(3, j) = 0;
    auto N = normalized_rows(M, 2);
    ASSERT_EQ(N.rows(), 50);
    ASSERT_EQ(N.cols(), 7);
    for (std::int64_t i = 0; i < 50; ++i) {
        double norm2 = 0;
        for (std::int64_t j = 0; j < 7; ++j) norm2 += static_cast<double>(N(i, j)) * N(i, j);
        if (i == 3) {
            EXPECT_EQ(norm2, 0.0);
        } else {
            EXPECT_NEAR(norm2, 1.0, 1e-5);
            // Direction kept: each entry is the original scaled by the same positive factor.
            float scale = N(i, 0) / M(i, 0);
            EXPECT_GT(scale, 0.0f);
            for (std::int64_t j = 1; j < 7; ++j) EXPECT_NEAR(N(i, j), M(i, j) * scale, 1e-5f);
        }
        for (std::int64_t j = 7; j < N.stride(); ++j) EXPECT_EQ(N(i, j), 0.0f);  // padding stays zero
    }
}

TEST(TopK, ScanKernelMatchesScalar) {
    std::mt19937 rng(18);
    std::uniform_real_distribution<float> u(-1, 1);
    float s[kernels::kScanWidth];
    for (int trial = 0; trial < 200; ++trial) {
        for (auto& x : s) x = u(rng);
        if (trial % 7 == 0) s[trial % kernels::kScanWidth] = std::numeric_limits<float>::quiet_NaN();
        float t = u(rng) + 0.5f;
        EXPECT_EQ(kernels::greater_mask(s, t), kernels::greater_mask_scalar(s, t)) << trial;
    }
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// ---- the scoring kernels and the bf16 candidate pass ----

TEST(ScoreKernels, BlockScoresAreBitIdenticalToScoreOneAndPortable) {
    for (std::int64_t dim : {5, 16, 64, 100}) {
        auto Q = random_matrix(13, dim, 1), T = random_matrix(90, dim, 2);
        kernels::PackedTargets P(T, 1);
        const std::int64_t ld = 96;
        std::vector<float> fast(static_cast<std::size_t>(13 * ld)), portable(fast.size());
        for (std::int64_t t0 : {0, 16, 80}) {
            const std::int64_t tn = std::min<std::int64_t>(T.rows() - t0, 70);
            kernels::score_block(Q.row(0), Q.stride(), Q.rows(), P, t0, tn, fast.data(), ld);
            kernels::score_block_portable(Q.row(0), Q.stride(), Q.rows(), P, t0, tn, portable.data(), ld);
            for (std::int64_t q = 0; q < Q.rows(); ++q)
                for (std::int64_t t = 0; t < tn; ++t) {
                    const float one = kernels::score_one(Q.row(q), T.row(t0 + t), T.stride());
                    ASSERT_EQ(fast[static_cast<std::size_t>(q * ld + t)], one) << dim << " " << q << " " << t;
                    ASSERT_EQ(portable[static_cast<std::size_t>(q * ld + t)], one);
                }
        }
    }
}

TEST(ScoreKernels, InterleavedRowsMatchScoreOne) {
    auto Q = random_matrix(1, 48, 5), T = random_matrix(21, 48, 6);
    std::vector<const float*> rows;
    for (std::int64_t t = 20; t >= 0; --t) rows.push_back(T.row(t));
    std::vector<float> out(rows.size());
    kernels::score_rows(Q.row(0), rows.data(), static_cast<std::int64_t>(rows.size()), T.stride(), out.data());
    for (std::size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(out[i], kernels::score_one(Q.row(0), rows[i], T.stride()));
}

// The few-query pass: every row scored (vector path for dims that are multiples of 8, scalar tail
// rows and odd dims), agreeing with the sequential chain to rounding.
TEST(ScoreKernels, ContiguousRowsMatchScoreOne) {
    for (std::int64_t dim : {64, 24, 13}) {
        auto Q = random_matrix(1, dim, 5), T = random_matrix(21, dim, 6);
        std::vector<float> out(21, -1.0f);
        kernels::score_contiguous(Q.row(0), T.row(0), T.stride(), 21, dim, out.data());
        for (std::int64_t i = 0; i < 21; ++i) {
            const float want = kernels::score_one(Q.row(0), T.row(i), dim);
            EXPECT_NEAR(out[static_cast<std::size_t>(i)], want, 1e-5f * (1.0f + std::abs(want))) << "dim " << dim << " row " << i;
        }
    }
}

TEST(ScoreKernels, Bf16RoundingIsNearestEven) {
    EXPECT_EQ(kernels::to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(kernels::to_bf16(-2.0f), 0xC000);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even (1.0).
    EXPECT_EQ(kernels::to_bf16(1.0f + 0x1p-8f), 0x3F80);
    EXPECT_EQ(kernels::to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
    EXPECT_EQ(kernels::to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);  // halfway, odd below: rounds up
}

TEST(ScoreKernels, Bf16ScoresStayWithinTheBound) {
    if (!kernels::has_bf16_scores()) GTEST_SKIP() << "AVX-512 BF16 not compiled in";
    auto Q = random_matrix(20, 64, 3), T = random_matrix(64, 64, 4);
    kernels::PackedTargetsBf16 P(T, 1);
    std::vector<std::uint32_t> qp;
    kernels::pack_queries_bf16(Q.row(0), Q.stride(), Q.rows(), T.stride(), qp);
    std::vector<float> s(static_cast<std::size_t>(20 * 64));
    kernels::score_block_bf16(qp.data(), 20, P, 0, 64, s.data(), 64);
    double worst = 0;
    int inexact = 0;
    for (std::int64_t q = 0; q < 20; ++q)
        for (std::int64_t t = 0; t < 64; ++t) {
            const double bound = kernels::bf16_error_bound(kernels::bf16_norms(Q.row(q), Q.stride()),
                                                           kernels::bf16_norms(T.row(t), T.stride()));
            const double err = std::fabs(s[static_cast<std::size_t>(q * 64 + t)] -
                                         kernels::score_one(Q.row(q), T.row(t), T.stride()));
            ASSERT_LE(err, bound);
            worst = std::max(worst, err / bound);
            inexact += err > 0;
        }
    EXPECT_LT(worst, 1.0);
    EXPECT_GT(inexact, 20 * 64 / 2);  // it really is a lower-precision pass
}

// The bf16 candidate pass must return exactly what the float32 pass returns: same ids, same scores
// bit for bit, same order, through ties, masks and exclusions.
TEST(TopK, LowPrecisionPassGivesIdenticalResults) {
    auto check = [](const Matrix& Q, const Matrix& T, const TopKFilter& f, int k) {
        TopKOptions lo{.k = k, .threads = 2};
        TopKOptions hi = lo;
        hi.low_precision = false;
        auto a = top_k_rows(Q, T, f, lo), b = top_k_rows(Q, T, f, hi);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t q = 0; q < a.size(); ++q) {
            ASSERT_EQ(a[q].size(), b[q].size()) << q;
            for (std::size_t i = 0; i < a[q].size(); ++i) {
                ASSERT_EQ(a[q][i].id, b[q][i].id) << "query " << q << " rank " << i;
                ASSERT_EQ(a[q][i].score, b[q][i].score);
            }
        }
    };
    // Gaussian, and cosine-like (normalised rows: many close scores near the top).
    auto T = random_matrix(3000, 64, 11);
    auto Q = random_matrix(200, 64, 12);
    for (int k : {1, 10, 50}) check(Q, T, {}, k);
    check(normalized_rows(Q), normalized_rows(T), {}, 20);
    // Exact ties: duplicated target rows (ties go to the lower id on both paths).
    Matrix D(1000, 32);
    auto base = random_matrix(100, 32, 13);
    for (std::int64_t i = 0; i < 1000; ++i)
        for (std::int64_t j = 0; j < 32; ++j) D(i, j) = base(i % 100, j);
    check(random_matrix(100, 32, 14), D, {}, 25);
    // Clustered data with a mask and per-query exclusions (the queries are targets: related items).
    std::vector<std::uint8_t> allowed(3000, 1);
    for (std::size_t i = 0; i < allowed.size(); i += 7) allowed[i] = 0;
    std::vector<std::vector<std::int32_t>> ex(200);
    for (std::int32_t q = 0; q < 200; ++q) ex[static_cast<std::size_t>(q)] = {q, q + 1, 2500};
    TopKFilter f{allowed, [&](std::int64_t q) { return std::span<const std::int32_t>(ex[static_cast<std::size_t>(q)]); }};
    Matrix TQ(200, 64);
    for (std::int64_t i = 0; i < 200; ++i)
        for (std::int64_t j = 0; j < 64; ++j) TQ(i, j) = T(i, j);
    check(TQ, T, f, 10);
    // Wider than the bf16 bound's range: the float32 pass runs, still identical.
    check(random_matrix(70, 300, 15), random_matrix(500, 300, 16), {}, 5);
}

}  // namespace
}  // namespace encore
