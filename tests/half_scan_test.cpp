// The half-precision candidate scan of single queries (kernels/half_scan.hpp, top_k_one with a
// HalfRows copy): the conversions, the kernels against their portable loops, the error bound, and
// results identical to the float32 pass (ids, order, scores bit for bit) through related and recommend.
#include "encore/kernels/half_scan.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "encore/kernels/score_gemm.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/topk.hpp"
#include "encore/util/error.hpp"

namespace encore {
namespace {

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    Matrix m(rows, cols);
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) m(i, j) = nd(rng);
    return m;
}

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }

TEST(HalfScan, ConversionRoundsToNearestEven) {
    EXPECT_EQ(kernels::to_half(1.0f), 0x3C00);
    EXPECT_EQ(kernels::to_half(-2.0f), 0xC000);
    EXPECT_EQ(kernels::to_half(65504.0f), 0x7BFF);
    EXPECT_EQ(kernels::to_half(65519.0f), 0x7BFF);  // below the halfway point to 65536
    EXPECT_EQ(kernels::to_half(65520.0f), 0x7C00);  // halfway, odd below: to infinity
    EXPECT_EQ(kernels::to_half(1.0f + 0x1p-11f), 0x3C00);  // halfway: ties to even
    EXPECT_EQ(kernels::to_half(1.0f + 3 * 0x1p-11f), 0x3C02);
    EXPECT_EQ(kernels::to_half(0x1p-24f), 0x0001);  // the smallest subnormal
    EXPECT_EQ(kernels::to_half(0x1p-25f), 0x0000);  // halfway to it: even is zero
    EXPECT_EQ(kernels::to_half(0x1.8p-24f), 0x0002);  // 1.5 ulps: ties to even (2)
    EXPECT_EQ(kernels::to_half(-0.0f), 0x8000);
    EXPECT_EQ(kernels::to_half(std::numeric_limits<float>::infinity()), 0x7C00);
    EXPECT_EQ(kernels::to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7C00, 0x7C00);
    EXPECT_NE(kernels::to_half(std::numeric_limits<float>::quiet_NaN()) & 0x3FF, 0);
    for (std::uint32_t h = 0; h < 0x10000; ++h) {  // every finite half converts back to itself
        const float f = kernels::from_half(static_cast<std::uint16_t>(h));
        if (std::isfinite(f)) {
            ASSERT_EQ(kernels::to_half(f), h) << h;
        }
    }
    EXPECT_EQ(kernels::from_half(0x0001), 0x1p-24f);
    EXPECT_EQ(kernels::from_half(0x3555), 0x1.554p-2f);
}

#if defined(__F16C__)
// The portable conversions agree with the hardware's, on every half and on random float patterns
// (every exponent, ties included).
TEST(HalfScan, ConversionMatchesF16c) {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const float hw = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h))));
        const float sw = kernels::from_half(static_cast<std::uint16_t>(h));
        if (std::isnan(hw)) {  // the hardware quiets signalling NaNs
            ASSERT_TRUE(std::isnan(sw)) << h;
            continue;
        }
        ASSERT_EQ(bits(sw), bits(hw)) << h;
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 2000000; ++i) {
        std::uint32_t u = static_cast<std::uint32_t>(rng());
        if (i % 4 == 0) u &= 0xFFFFE000u | (1u << 12);  // exact halfway cases
        if (i % 3 == 0) u = (u & 0x807FFFFFu) | ((98u + (u >> 27)) << 23);  // the subnormal and low range
        const float f = std::bit_cast<float>(u);
        const auto hw = static_cast<std::uint16_t>(
            _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0));
        if (std::isnan(f)) continue;  // NaN payloads may differ; both stay NaN
        ASSERT_EQ(kernels::to_half(f), hw) << std::hex << u;
    }
}
#endif

// The vector kernel is bit-identical to the portable loop (one fma chain per row, dimensions in order).
TEST(HalfScan, VectorScoresMatchPortable) {
    for (std::int64_t dim : {64, 24, 13, 1, 256}) {
        const std::int64_t n = 203;
        auto T = random_matrix(n, dim, 3), Q = random_matrix(1, dim, 4);
        kernels::HalfRows H(T, 1);
        ASSERT_TRUE(H.usable());
        for (std::int64_t r0 : {0, 16, 160}) {
            const std::int64_t m = n - r0, padded = (m + 15) / 16 * 16;
            std::vector<float> a(static_cast<std::size_t>(padded), -1.0f), b(a);
            kernels::half_scores(Q.row(0), H, r0, m, a.data());
            kernels::half_scores_portable(Q.row(0), H, r0, m, b.data());
            for (std::int64_t i = 0; i < m; ++i)
                ASSERT_EQ(bits(a[static_cast<std::size_t>(i)]), bits(b[static_cast<std::size_t>(i)]))
                    << "dim " << dim << " r0 " << r0 << " row " << i;
            for (std::int64_t i = m; i < padded; ++i) EXPECT_EQ(a[static_cast<std::size_t>(i)], 0.0f);  // zero rows
        }
    }
    float s[16], c[16];
    for (int i = 0; i < 16; ++i) {
        s[i] = static_cast<float>(i) - 8.0f;
        c[i] = 0.25f * static_cast<float>(i % 3);
    }
    for (float tau : {-100.0f, -3.0f, 0.0f, 2.5f, 7.5f, 100.0f})
        EXPECT_EQ(kernels::reach_mask(s, c, 2.0f, tau), kernels::reach_mask_scalar(s, c, 2.0f, tau)) << tau;
}

// Every row's exact score (the float32 pass's) lies within its reach, on data that stresses each term
// of the bound: unit rows, large and tiny norms, values that are subnormal or exact in half.
TEST(HalfScan, ExactScoresLieWithinTheReach) {
    const std::int64_t n = 777, dim = 64;
    auto T = random_matrix(n, dim, 5);
    for (std::int64_t i = 0; i < n; ++i) {
        const float f = i % 5 == 0 ? 1000.0f : i % 5 == 1 ? 1e-6f : i % 5 == 2 ? 0x1p-20f : 1.0f;
        for (std::int64_t j = 0; j < dim; ++j) T(i, j) *= f;
        if (i % 7 == 3)
            for (std::int64_t j = 0; j < dim; ++j) T(i, j) = std::round(T(i, j) * 4) / 4;  // exact in half
    }
    kernels::HalfRows H(T, 1);
    ASSERT_TRUE(H.usable());
    int inexact = 0;
    for (std::uint32_t seed = 0; seed < 6; ++seed) {
        auto Q = random_matrix(1, dim, 100 + seed, seed % 2 ? 1e3f : 1e-3f);
        const float scale = kernels::half_query_scale(Q.row(0), H);
        ASSERT_GT(scale, 0.0f);
        std::vector<float> approx(static_cast<std::size_t>((n + 15) / 16 * 16)), exact(static_cast<std::size_t>(n));
        kernels::half_scores(Q.row(0), H, 0, n, approx.data());
        kernels::score_contiguous(Q.row(0), T.row(0), T.stride(), n, dim, exact.data());
        for (std::int64_t i = 0; i < n; ++i) {
            const float s = approx[static_cast<std::size_t>(i)], e = exact[static_cast<std::size_t>(i)];
            const float c = H.bounds()[i];
            ASSERT_LE(kernels::half_lower(s, c, scale), e) << "row " << i;
            ASSERT_GE(kernels::half_upper(s, c, scale), e) << "row " << i;
            inexact += s != e;
        }
    }
    EXPECT_GT(inexact, 6 * n / 2);  // it really is approximate
}

// Values a half cannot hold (or not finite) make the copy unusable; queries the bound does not cover
// get scale 0 (the caller scans in float32).
TEST(HalfScan, OutOfRangeIsRefused) {
    auto T = random_matrix(40, 8, 6);
    T(17, 3) = 70000.0f;
    EXPECT_FALSE(kernels::HalfRows(T, 1).usable());
    T(17, 3) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(kernels::HalfRows(T, 1).usable());
    T(17, 3) = 1.0f;
    kernels::HalfRows H(T, 1);
    ASSERT_TRUE(H.usable());
    std::vector<float> q(8, 1.0f);
    EXPECT_GT(kernels::half_query_scale(q.data(), H), 0.0f);
    q[2] = std::numeric_limits<float>::infinity();
    EXPECT_EQ(kernels::half_query_scale(q.data(), H), 0.0f);
    q[2] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(kernels::half_query_scale(q.data(), H), 0.0f);
    std::fill(q.begin(), q.end(), 0.0f);
    EXPECT_EQ(kernels::half_query_scale(q.data(), H), 0.0f);
    EXPECT_FALSE(kernels::HalfRows(random_matrix(4, 300, 1), 1).usable());  // beyond kMaxHalfDim
}

// score_contiguous_at gives each row exactly what score_contiguous gives it: vector groups, tail rows
// (score_one) and dimensions the vector path does not take.
TEST(ScoreKernels, ContiguousAtMatchesContiguous) {
    for (std::int64_t dim : {64, 24, 13}) {
        for (std::int64_t n : {21, 37, 8, 5}) {
            auto Q = random_matrix(1, dim, 5), T = random_matrix(n, dim, 6);
            std::vector<float> all(static_cast<std::size_t>(n));
            kernels::score_contiguous(Q.row(0), T.row(0), T.stride(), n, dim, all.data());
            std::vector<std::int32_t> at(static_cast<std::size_t>(n));
            std::iota(at.begin(), at.end(), 0);
            std::shuffle(at.begin(), at.end(), std::mt19937(static_cast<std::uint32_t>(n)));
            at.push_back(at[0]);  // a row asked twice
            std::vector<float> some(at.size());
            kernels::score_contiguous_at(Q.row(0), T.row(0), T.stride(), n, dim, at.data(),
                                         static_cast<std::int64_t>(at.size()), some.data());
            for (std::size_t k = 0; k < at.size(); ++k)
                ASSERT_EQ(bits(some[k]), bits(all[static_cast<std::size_t>(at[k])])) << dim << " " << n << " " << k;
        }
    }
}

// ---- top_k_one with the copy: identical to the float32 pass ----

void expect_identical(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].id, want[i].id) << what << " rank " << i;
        ASSERT_EQ(bits(got[i].score), bits(want[i].score)) << what << " rank " << i;
    }
}

// Queries against T with and without its half copy, for several k and filters.
void check_all(const Matrix& T, const Matrix& Q, const char* what, std::vector<int> ks = {1, 10, 50}) {
    kernels::HalfRows H(T, 2);
    ASSERT_TRUE(H.usable()) << what;
    ASSERT_TRUE(half_scan_pays(T)) << what;
    std::vector<std::uint8_t> allowed(static_cast<std::size_t>(T.rows()), 1);
    for (std::size_t i = 0; i < allowed.size(); i += 3) allowed[i] = 0;
    for (std::int64_t q = 0; q < Q.rows(); ++q) {
        std::vector<std::int32_t> ex;  // sorted: the query's own row, a few near it, one far
        for (std::int32_t d : {-2, 0, 1, 5})
            if (q + d >= 0 && q + d < T.rows()) ex.push_back(static_cast<std::int32_t>(q + d));
        ex.push_back(static_cast<std::int32_t>(T.rows() - 1));
        std::sort(ex.begin(), ex.end());
        ex.erase(std::unique(ex.begin(), ex.end()), ex.end());
        TopKFilter none, masked{allowed, {}};
        TopKFilter both{allowed, [&](std::int64_t) { return std::span<const std::int32_t>(ex); }};
        for (int k : ks)
            for (const TopKFilter* f : {&none, &masked, &both})
                expect_identical(top_k_one(Q.row_span(q), T, *f, k, q, &H), top_k_one(Q.row_span(q), T, *f, k, q),
                                 what);
    }
}

TEST(TopKHalf, RandomAndCosineIdenticalToFloat32) {
    for (std::int64_t dim : {64, 24, 13}) {
        auto T = random_matrix(5003, dim, 11), Q = random_matrix(8, dim, 12);
        check_all(T, Q, "gaussian");
        auto U = normalized_rows(T);
        Matrix UQ(8, dim);  // related items: the queries are rows of the targets
        for (std::int64_t q = 0; q < 8; ++q) std::copy_n(U.row(q * 600), dim, UQ.row(q));
        check_all(U, UQ, "cosine");
    }
}

// Near-ties the half copy cannot tell apart: rows equal in half but a few float ulps apart (and exact
// duplicates: ties go to the lower id), plus a few rows of very large norm among small ones.
TEST(TopKHalf, AdversarialIdenticalToFloat32) {
    const std::int64_t n = 6000, dim = 32;
    auto base = normalized_rows(random_matrix(40, dim, 21));
    Matrix T(n, dim);
    std::mt19937 rng(22);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < dim; ++j) {
            const float v = base(i % 40, j);
            const int ulps = static_cast<int>(rng() % 5) - 2;  // within one half rounding step
            T(i, j) = i % 3 == 0 ? v : std::bit_cast<float>(std::bit_cast<std::int32_t>(v) + ulps);
        }
    Matrix Q(6, dim);
    for (std::int64_t q = 0; q < 6; ++q) std::copy_n(T.row(q), dim, Q.row(q));
    check_all(T, Q, "near ties", {1, 10, 60, 93});

    auto L = random_matrix(n, dim, 23, 0.01f);
    for (std::int64_t i = 0; i < n; i += 97)
        for (std::int64_t j = 0; j < dim; ++j) L(i, j) *= 3000.0f;  // large-norm rows, still within half range
    check_all(L, random_matrix(6, dim, 24), "large norms");

    auto S = random_matrix(n, dim, 25, 1e-5f);  // subnormal halves: absolute rounding dominates
    check_all(S, random_matrix(6, dim, 26), "tiny values");
}

// k beyond the allowed rows (every allowed row is returned), a single allowed row, none, and the
// fall-backs (k too big for the scan, a query the bound does not cover): all as the float32 pass.
TEST(TopKHalf, EdgeCasesIdenticalToFloat32) {
    const std::int64_t n = 4100, dim = 16;
    auto T = random_matrix(n, dim, 31), Q = random_matrix(3, dim, 32);
    kernels::HalfRows H(T, 1);
    std::vector<std::uint8_t> few(static_cast<std::size_t>(n), 0), one(few), nothing(few);
    for (std::size_t i = 5; i < few.size(); i += 400) few[i] = 1;  // 11 rows
    one[4099] = 1;
    const std::int32_t ex[] = {405, 4099};
    for (std::int64_t q = 0; q < 3; ++q) {
        const auto qs = Q.row_span(q);
        for (int k : {20, 64, 1, 0, 65, 5000}) {
            for (auto* mask : {&few, &one, &nothing}) {
                TopKFilter f{*mask, {}}, fx{*mask, [&](std::int64_t) { return std::span<const std::int32_t>(ex); }};
                expect_identical(top_k_one(qs, T, f, k, q, &H), top_k_one(qs, T, f, k, q), "mask");
                expect_identical(top_k_one(qs, T, fx, k, q, &H), top_k_one(qs, T, fx, k, q), "mask + excluded");
            }
        }
    }
    std::vector<float> zero(static_cast<std::size_t>(dim), 0.0f);
    expect_identical(top_k_one(zero, T, {}, 10, 0, &H), top_k_one(zero, T, {}, 10, 0), "zero query");
    std::vector<float> nan_q(Q.row(0), Q.row(0) + dim);
    nan_q[3] = std::numeric_limits<float>::quiet_NaN();
    expect_identical(top_k_one(nan_q, T, {}, 10, 0, &H), top_k_one(nan_q, T, {}, 10, 0), "NaN query");
    // A copy of another shape is refused, not misread.
    kernels::HalfRows other(random_matrix(n, dim + 1, 1), 1);
    EXPECT_THROW(top_k_one(Q.row_span(0), T, {}, 10, 0, &other), Error);
    // The mask is checked as on the float32 path.
    std::vector<std::uint8_t> short_mask(10, 1);
    EXPECT_THROW(top_k_one(Q.row_span(0), T, TopKFilter{short_mask, {}}, 10, 0, &H), Error);
}

// Through the scorer: related (unit-length item factors, the item itself excluded) and recommend for
// known users (played items filtered) answer as top_k_one's float32 pass on the same matrices.
TEST(TopKHalf, RelatedAndRecommendIdenticalToFloat32) {
    const std::int64_t n_items = 7000, n_users = 30, k = 48;
    Model m;
    m.kind = "als";
    m.item_factors = random_matrix(n_items, k, 41, 0.3f);
    for (std::int64_t i = 0; i < n_items; i += 50)
        for (std::int64_t j = 0; j < k; ++j) m.item_factors(i, j) *= 20.0f;  // popular items: big norms
    std::mt19937 ulps(44);
    for (std::int64_t i = 0; i < n_items; ++i)  // near-duplicates the half copy cannot tell apart
        if (i % 7 != 0)
            for (std::int64_t j = 0; j < k; ++j)
                m.item_factors(i, j) = std::bit_cast<float>(std::bit_cast<std::int32_t>(m.item_factors(i - i % 7, j)) +
                                                            static_cast<std::int32_t>(ulps() % 9) - 4);
    m.user_factors = random_matrix(n_users, k, 42, 0.3f);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    std::mt19937 rng(43);
    for (std::int32_t u = 0; u < n_users; ++u)
        for (std::int32_t i = 0; i < n_items; i += 1 + static_cast<std::int32_t>(rng() % 200)) {
            r.push_back(u);
            c.push_back(i);
            v.push_back(1.0f);
        }
    m.user_items = Csr::from_triplets(n_users, n_items, r, c, v, 1);
    m.regularization = 0.1f;
    auto scorer = open_scorer(m, 1);
    const Matrix unit = normalized_rows(m.item_factors, 1);
    std::vector<std::uint8_t> allowed(static_cast<std::size_t>(n_items), 1);
    for (std::size_t i = 0; i < allowed.size(); i += 4) allowed[i] = 0;
    for (std::int32_t item : {0, 1, 50, 777, 6998}) {
        const std::int32_t self[1] = {item};
        for (auto mask : {std::span<const std::uint8_t>(), std::span<const std::uint8_t>(allowed)})
            for (int n : {1, 10, 100}) {
                TopKFilter f{mask, [&](std::int64_t) { return std::span<const std::int32_t>(self); }};
                expect_identical(scorer->related(item, mask, n), top_k_one(unit.row_span(item), unit, f, n, item),
                                 "related");
            }
    }
    for (std::int32_t u = 0; u < n_users; u += 3) {
        const auto played = m.user_items.row_indices(u);
        const auto conf = m.user_items.row_values(u);
        for (bool filter_played : {true, false})
            for (int n : {1, 10, 100}) {
                TopKFilter f;
                if (filter_played) f.excluded = [&](std::int64_t) { return played; };
                expect_identical(scorer->recommend({played, conf, u}, {}, filter_played, n),
                                 top_k_one(m.user_factors.row_span(u), m.item_factors, f, n, u), "recommend");
            }
    }
}

}  // namespace
}  // namespace encore
