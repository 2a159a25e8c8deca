#include "encore/data/weighting.hpp"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "encore/util/error.hpp"

namespace encore {
namespace {

// 3 users x 5 items (item 4 never played); user 2 dislikes item 0:
//   u0: i0 = 2, i1 = 1      u1: i1 = 3, i2 = 4, i3 = 1      u2: i0 = -2, i3 = 5
// Item lengths (|x|): 4, 4, 4, 6, 0, mean 3.6. The expected values below were computed by hand
// (a calculator) from the formulas in weighting.hpp, not by this code.
Csr small() {
    std::vector<std::int32_t> r = {0, 0, 1, 1, 1, 2, 2};
    std::vector<std::int32_t> c = {0, 1, 1, 2, 3, 0, 3};
    std::vector<float> v = {2, 1, 3, 4, 1, -2, 5};
    return Csr::from_triplets(3, 5, r, c, v, 1);
}

void expect_values(const Csr& m, const std::vector<float>& expected, float rel) {
    ASSERT_EQ(m.nnz(), static_cast<std::int64_t>(expected.size()));
    for (std::size_t k = 0; k < expected.size(); ++k)
        EXPECT_NEAR(m.values[k], expected[k], rel * std::fabs(expected[k])) << "entry " << k;
}

TEST(Weighting, NoneKeepsValues) {
    auto x = small();
    auto m = fit_weighting(x, {.kind = WeightingKind::none});
    auto c = apply_weighting(x, m, 2);
    expect_values(c, {2, 1, 3, 4, 1, -2, 5}, 0);
    EXPECT_TRUE(m.item_length_norm.empty());
}

TEST(Weighting, Linear) {
    auto x = small();
    auto c = apply_weighting(x, fit_weighting(x, {.kind = WeightingKind::linear, .alpha = 40}), 2);
    expect_values(c, {81, 41, 121, 161, 41, -81, 201}, 0);
}

TEST(Weighting, Log) {
    auto x = small();
    auto c = apply_weighting(x, fit_weighting(x, {.kind = WeightingKind::log, .alpha = 40, .eps = 1}), 2);
    expect_values(c, {44.94449f, 28.72589f, 56.45177f, 65.37752f, 28.72589f, -44.94449f, 72.67038f}, 1e-6f);
    auto c2 = apply_weighting(x, fit_weighting(x, {.kind = WeightingKind::log, .alpha = 3, .eps = 0.5f}), 2);
    expect_values(c2, {5.828314f, 4.295837f, 6.83773f, 7.591674f, 4.295837f, -5.828314f, 8.193686f}, 1e-6f);
}

TEST(Weighting, TfidfItemsAreDocumentsUsersAreTerms) {
    auto x = small();
    auto c = apply_weighting(x, fit_weighting(x, {.kind = WeightingKind::tfidf}), 2);
    // idf_u = log(5) - log1p(n_u): 0.5108256 for the users with 2 items, 0.2231436 for the one with 3.
    expect_values(c, {0.7224165f, 0.5108256f, 0.386496f, 0.4462871f, 0.2231436f, -0.7224165f, 1.142241f}, 1e-6f);
}

TEST(Weighting, Bm25) {
    auto x = small();
    auto m = fit_weighting(x, {.kind = WeightingKind::bm25, .K1 = 2, .B = 0.5f});
    ASSERT_EQ(m.n_items, 5);
    ASSERT_EQ(m.item_length_norm.size(), 5u);
    // (1 - B) + B * L_i / mean L with L = 4, 4, 4, 6, 0 and mean 3.6
    EXPECT_NEAR(m.item_length_norm[0], 1.0555556f, 1e-6f);
    EXPECT_NEAR(m.item_length_norm[3], 1.3333333f, 1e-6f);
    EXPECT_NEAR(m.item_length_norm[4], 0.5f, 1e-7f);
    auto c = apply_weighting(x, m, 2);
    expect_values(c, {0.7455293f, 0.4925819f, 0.3929267f, 0.4381728f, 0.182572f, -0.7455293f, 0.9994414f}, 1e-6f);
}

TEST(Weighting, DefaultsAreImplicitsBm25) {
    WeightingOptions o;
    EXPECT_EQ(o.kind, WeightingKind::bm25);
    EXPECT_EQ(o.K1, 100.0f);
    EXPECT_EQ(o.B, 0.8f);
}

TEST(Weighting, WeighRowReproducesApplyWeighting) {
    // A random matrix; each user's row weighed alone (as a fold-in would) must equal its row of the
    // whole-matrix weighting bit for bit, for every kind.
    std::mt19937 rng(11);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int u = 0; u < 50; ++u)
        for (int i = 0; i < 30; ++i)
            if (rng() % 4 == 0) {
                r.push_back(u);
                c.push_back(i);
                float x = static_cast<float>(1 + rng() % 200);
                v.push_back(rng() % 10 == 0 ? -x : x);
            }
    auto x = Csr::from_triplets(50, 30, r, c, v, 1);
    for (auto kind : {WeightingKind::none, WeightingKind::bm25, WeightingKind::tfidf, WeightingKind::linear,
                      WeightingKind::log}) {
        auto m = fit_weighting(x, {.kind = kind});
        auto all = apply_weighting(x, m, 2);
        for (std::int64_t u = 0; u < x.rows; ++u) {
            auto row = weigh_row(x.row_indices(u), x.row_values(u), m);
            auto expected = all.row_values(u);
            ASSERT_EQ(row.size(), expected.size());
            for (std::size_t j = 0; j < row.size(); ++j)
                ASSERT_EQ(row[j], expected[j]) << weighting_name(kind) << " user " << u << " entry " << j;
        }
    }
}

TEST(Weighting, ApplyIsIndependentOfThreads) {
    auto x = small();
    auto m = fit_weighting(x, {});
    auto a = apply_weighting(x, m, 1), b = apply_weighting(x, m, 2);
    for (std::size_t k = 0; k < a.values.size(); ++k) EXPECT_EQ(a.values[k], b.values[k]);
    EXPECT_EQ(a.indices.span().data(), x.indices.span().data());  // same structure, shared
}

TEST(Weighting, ParseAndName) {
    for (auto k : {WeightingKind::none, WeightingKind::bm25, WeightingKind::tfidf, WeightingKind::linear,
                   WeightingKind::log})
        EXPECT_EQ(parse_weighting(weighting_name(k)), k);
    try {
        parse_weighting("bm26");
        FAIL() << "expected OptionError";
    } catch (const OptionError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown weighting 'bm26'"), std::string::npos) << e.what();
    }
}

TEST(Weighting, RejectsBadOptionsAndInputs) {
    auto x = small();
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::bm25, .K1 = 0}), OptionError);
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::bm25, .B = 1.5f}), OptionError);
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::bm25, .B = NAN}), OptionError);
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::linear, .alpha = -1}), OptionError);
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::log, .eps = 0}), OptionError);
    // Options a kind does not use are not checked.
    EXPECT_NO_THROW(fit_weighting(x, {.kind = WeightingKind::tfidf, .K1 = -1}));

    auto m = fit_weighting(x, {});
    std::vector<std::int32_t> items = {1, 7};
    std::vector<float> values = {1, 2};
    try {
        weigh_row(items, values, m);
        FAIL() << "expected Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("item index 7"), std::string::npos) << e.what();
    }
    std::vector<float> short_values = {1};
    EXPECT_THROW(weigh_row(std::span<const std::int32_t>(items).first(2), short_values, m), Error);
    // A matrix with another item count than the one fitted on.
    auto other = Csr::from_triplets(1, 9, std::vector<std::int32_t>{0}, std::vector<std::int32_t>{8},
                                    std::vector<float>{1}, 1);
    EXPECT_THROW(apply_weighting(other, m, 1), Error);
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(Weighting, AlphaScalesBm25TfidfAndNoneAndDefaultsPerKind) {
    EXPECT_EQ(default_alpha(WeightingKind::bm25), 1.0f);
    EXPECT_EQ(default_alpha(WeightingKind::none), 1.0f);
    EXPECT_EQ(default_alpha(WeightingKind::linear), 40.0f);
    std::vector<std::int32_t> r = {0, 0, 1}, c = {0, 1, 1};
    std::vector<float> v = {3, 5, 7};
    auto x = Csr::from_triplets(2, 2, r, c, v);
    for (auto kind : {WeightingKind::none, WeightingKind::bm25, WeightingKind::tfidf}) {
        auto base = apply_weighting(x, fit_weighting(x, {.kind = kind}));
        auto scaled = apply_weighting(x, fit_weighting(x, {.kind = kind, .alpha = 0.25f}));
        for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(scaled.values[k], 0.25f * base.values[k], 1e-6f * std::fabs(base.values[k]));
    }
    EXPECT_EQ(*fit_weighting(x, {.kind = WeightingKind::log}).options.alpha, 40.0f);
    EXPECT_THROW(fit_weighting(x, {.kind = WeightingKind::bm25, .alpha = 0.0f}), OptionError);
}

}  // namespace
}  // namespace encore
