#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "encore/eval/metrics.hpp"
#include "encore/eval/split.hpp"
#include "encore/util/error.hpp"

namespace encore {
namespace {

// A users x items Csr from per-user sorted item lists (value = 1).
Csr make_test(std::int64_t items, const std::vector<std::vector<std::int32_t>>& rows) {
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (std::size_t u = 0; u < rows.size(); ++u)
        for (auto i : rows[u]) {
            r.push_back(static_cast<std::int32_t>(u));
            c.push_back(i);
            v.push_back(1.0f);
        }
    return Csr::from_triplets(static_cast<std::int64_t>(rows.size()), items, r, c, v, 1);
}

std::vector<ScoredItem> ranked(std::initializer_list<std::int32_t> ids) {
    std::vector<ScoredItem> out;
    float score = 100;
    for (auto id : ids) out.push_back({id, score--});
    return out;
}

TEST(Metrics, PerfectRankingScoresOne) {
    auto test = make_test(10, {{2, 5}, {7}});
    std::vector<std::vector<ScoredItem>> recs = {ranked({5, 2, 0}), ranked({7, 1, 3})};
    auto m = ranking_metrics_at_k(recs, test, 2);
    EXPECT_EQ(m.users, 2);
    EXPECT_EQ(m.k, 2);
    EXPECT_DOUBLE_EQ(m.precision, 1.0);
    EXPECT_DOUBLE_EQ(m.map, 1.0);
    EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
    // user 0: hits 2, misses 0 -> (2 + 2) / 2 * 8 / (2 * 8) = 1; user 1 (k = 2): hit, miss ->
    // (1 + (1 + 1) / 2 * (9 - 1)) / (1 * 9) = 1 as well: a miss ranked after every positive costs nothing.
    EXPECT_DOUBLE_EQ(m.auc, 1.0);
}

TEST(Metrics, NoHitsScoresZeroAndTiesBelowTheList) {
    auto test = make_test(10, {{0}});
    std::vector<std::vector<ScoredItem>> recs = {ranked({1, 2, 3})};
    auto m = ranking_metrics_at_k(recs, test, 3);
    EXPECT_EQ(m.users, 1);
    EXPECT_DOUBLE_EQ(m.precision, 0.0);
    EXPECT_DOUBLE_EQ(m.map, 0.0);
    EXPECT_DOUBLE_EQ(m.ndcg, 0.0);
    // 3 misses above the positive, the other 6 negatives tie with it: (0 + 1/2 * 6) / (1 * 9) = 1/3
    EXPECT_DOUBLE_EQ(m.auc, 1.0 / 3.0);
}

TEST(Metrics, MixedExampleByHand) {
    // 10 items, k = 3.
    // user 0: test {1, 4, 7}, list [4, 2, 7, 1] -> first 3: hit, miss, hit
    //   hits 2, denominator min(3, 3) = 3
    //   DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2; NDCG = 1.5 / IDCG
    //   AP = (1/1 + 2/3) / 3 = 5/9
    //   AUC: hit=1; miss=1, auc=1; hit=2; auc += (2 + 3)/2 * (7 - 1) = 15 -> 16 / (3 * 7) = 16/21
    // user 1: no test items -> ignored, whatever its list
    // user 2: test {0}, list [5, 0] (shorter than k) -> miss, hit
    //   hits 1, denominator 1; DCG = 1/log2(3), IDCG = 1; AP = (1/2) / 1 = 1/2
    //   AUC: miss=1, auc=0; hit=1; auc += (1 + 1)/2 * (9 - 1) = 8 -> 8/9
    // user 3: test {8, 9}, empty list -> hits 0, denominator 2; NDCG 0, AP 0
    //   AUC: (0 + 2)/2 * (8 - 0) = 8 -> 8 / (2 * 8) = 1/2
    // precision = (2 + 1 + 0) / (3 + 1 + 2) = 1/2; the others are means over the 3 users.
    auto test = make_test(10, {{1, 4, 7}, {}, {0}, {8, 9}});
    std::vector<std::vector<ScoredItem>> recs = {ranked({4, 2, 7, 1}), ranked({3, 6}), ranked({5, 0}), {}};
    auto m = ranking_metrics_at_k(recs, test, 3);
    const double inv_log3 = 1.0 / std::log2(3.0);
    EXPECT_EQ(m.users, 3);
    EXPECT_DOUBLE_EQ(m.precision, 0.5);
    EXPECT_NEAR(m.ndcg, (1.5 / (1.5 + inv_log3) + inv_log3 + 0.0) / 3.0, 1e-12);
    EXPECT_NEAR(m.map, (5.0 / 9.0 + 0.5 + 0.0) / 3.0, 1e-12);
    EXPECT_NEAR(m.auc, (16.0 / 21.0 + 8.0 / 9.0 + 0.5) / 3.0, 1e-12);
}

TEST(Metrics, UsersWithoutTestItemsAreIgnored) {
    auto one = make_test(6, {{3}});
    auto padded = make_test(6, {{}, {3}, {}});
    auto a = ranking_metrics_at_k({ranked({1, 3})}, one, 2);
    auto b = ranking_metrics_at_k({ranked({0, 1}), ranked({1, 3}), ranked({2})}, padded, 2);
    EXPECT_EQ(a.users, 1);
    EXPECT_EQ(b.users, 1);
    EXPECT_DOUBLE_EQ(a.precision, b.precision);
    EXPECT_DOUBLE_EQ(a.map, b.map);
    EXPECT_DOUBLE_EQ(a.ndcg, b.ndcg);
    EXPECT_DOUBLE_EQ(a.auc, b.auc);
    EXPECT_DOUBLE_EQ(a.map, 0.5);

    auto none = ranking_metrics_at_k({ranked({1}), {}}, make_test(4, {{}, {}}), 5);
    EXPECT_EQ(none.users, 0);
    EXPECT_EQ(none.precision, 0.0);
    EXPECT_EQ(none.auc, 0.0);
}

TEST(Metrics, KLargerThanListUsesTheWholeList) {
    // 2 test items both at the top of a 2-long list with k = 10: denominators are min(k, 2) = 2.
    auto test = make_test(20, {{4, 9}});
    auto m = ranking_metrics_at_k({ranked({9, 4})}, test, 10);
    EXPECT_DOUBLE_EQ(m.precision, 1.0);
    EXPECT_DOUBLE_EQ(m.map, 1.0);
    EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
    EXPECT_DOUBLE_EQ(m.auc, 1.0);
    // Only the first k entries count: the hit at rank 3 is outside k = 2.
    auto cut = ranking_metrics_at_k({ranked({0, 1, 9})}, test, 2);
    EXPECT_DOUBLE_EQ(cut.precision, 0.0);
}

TEST(Metrics, FullRankingAucIsThePairwiseAuc) {
    // With every item in the list, the definition reduces to the usual AUC: the share of
    // (positive, negative) pairs ranked in the right order.
    std::mt19937 rng(7);
    const int items = 40;
    std::vector<std::vector<std::int32_t>> likes(5);
    std::vector<std::vector<ScoredItem>> recs(5);
    double expected = 0;
    for (int u = 0; u < 5; ++u) {
        std::vector<std::int32_t> perm(items);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        for (int i = 0; i < items; ++i) {
            recs[static_cast<std::size_t>(u)].push_back({perm[static_cast<std::size_t>(i)], float(items - i)});
            if (rng() % 4 == 0) likes[static_cast<std::size_t>(u)].push_back(i);
        }
        auto& l = likes[static_cast<std::size_t>(u)];
        if (l.empty()) l.push_back(3);
        double good = 0, pos = static_cast<double>(l.size()), neg = items - pos;
        for (int a = 0; a < items; ++a)
            for (int b = a + 1; b < items; ++b) {
                bool pa = std::count(l.begin(), l.end(), perm[static_cast<std::size_t>(a)]) > 0;
                bool pb = std::count(l.begin(), l.end(), perm[static_cast<std::size_t>(b)]) > 0;
                good += pa && !pb;
            }
        expected += good / (pos * neg);
    }
    auto m = ranking_metrics_at_k(recs, make_test(items, likes), items);
    EXPECT_NEAR(m.auc, expected / 5, 1e-12);
}

TEST(Metrics, SameResultForAnyThreadCount) {
    std::mt19937 rng(11);
    std::vector<std::vector<std::int32_t>> likes(3000);
    std::vector<std::vector<ScoredItem>> recs(3000);
    for (std::size_t u = 0; u < likes.size(); ++u) {
        for (std::int32_t i = 0; i < 200; ++i)
            if (rng() % 50 == 0) likes[u].push_back(i);
        for (int j = 0; j < 10; ++j) recs[u].push_back({static_cast<std::int32_t>(rng() % 200), 1.0f});
    }
    auto test = make_test(200, likes);
    auto a = ranking_metrics_at_k(recs, test, 10, 1);
    auto b = ranking_metrics_at_k(recs, test, 10, 2);
    EXPECT_GT(a.users, 2000);
    EXPECT_EQ(a.users, b.users);
    EXPECT_EQ(a.precision, b.precision);
    EXPECT_EQ(a.map, b.map);
    EXPECT_EQ(a.ndcg, b.ndcg);
    EXPECT_EQ(a.auc, b.auc);
    EXPECT_GT(a.precision, 0.0);
}

TEST(Metrics, RejectsBadArguments) {
    auto test = make_test(5, {{1}, {2}});
    try {
        ranking_metrics_at_k({ranked({1}), ranked({2})}, test, 0);
        FAIL() << "k = 0 accepted";
    } catch (const OptionError& e) {
        EXPECT_NE(std::string(e.what()).find("at least 1"), std::string::npos) << e.what();
    }
    try {
        ranking_metrics_at_k({ranked({1})}, test, 3);
        FAIL() << "size mismatch accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("1 recommendation lists for 2 test users"), std::string::npos) << e.what();
    }
}

// ---- splits

// About 100K interactions over 2000 users x 1000 items, value = a unique function of (row, col).
Csr random_interactions() {
    std::mt19937 rng(5);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int k = 0; k < 105000; ++k) {
        auto u = static_cast<std::int32_t>(rng() % 2000), i = static_cast<std::int32_t>(rng() % 1000);
        r.push_back(u);
        c.push_back(i);
        v.push_back(1.0f);
    }
    Csr m = Csr::from_triplets(2000, 1000, r, c, v, 1);
    std::vector<float> values(static_cast<std::size_t>(m.nnz()));
    for (std::int64_t u = 0; u < m.rows; ++u)
        for (std::int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p)
            values[static_cast<std::size_t>(p)] = static_cast<float>(u * 1000 + m.indices[static_cast<std::size_t>(p)]);
    return m.with_values(std::move(values));
}

bool same_csr(const Csr& a, const Csr& b) {
    return a.rows == b.rows && a.cols == b.cols && std::ranges::equal(a.indptr, b.indptr) &&
           std::ranges::equal(a.indices, b.indices) && std::ranges::equal(a.values, b.values);
}

TEST(Split, DisjointAndUnionIsTheInput) {
    Csr input = random_interactions();
    auto s = random_split(input, 0.2, 42, 2);
    s.train.validate("train");
    s.test.validate("test");
    ASSERT_EQ(s.train.rows, input.rows);
    ASSERT_EQ(s.test.cols, input.cols);
    EXPECT_EQ(s.train.nnz() + s.test.nnz(), input.nnz());
    for (std::int64_t u = 0; u < input.rows; ++u) {
        // merge the two sorted rows: they must interleave to the input row exactly, values included
        auto ti = s.train.row_indices(u), qi = s.test.row_indices(u);
        auto tv = s.train.row_values(u), qv = s.test.row_values(u);
        std::size_t a = 0, b = 0;
        for (std::int64_t p = input.indptr[u]; p < input.indptr[u + 1]; ++p) {
            auto col = input.indices[static_cast<std::size_t>(p)];
            auto val = input.values[static_cast<std::size_t>(p)];
            if (a < ti.size() && ti[a] == col) {
                ASSERT_FALSE(b < qi.size() && qi[b] == col) << "in both: " << u << "," << col;
                ASSERT_EQ(tv[a++], val);
            } else {
                ASSERT_TRUE(b < qi.size() && qi[b] == col) << "lost: " << u << "," << col;
                ASSERT_EQ(qv[b++], val);
            }
        }
        ASSERT_EQ(a, ti.size());
        ASSERT_EQ(b, qi.size());
    }
}

TEST(Split, FractionCloseToRequested) {
    Csr input = random_interactions();
    ASSERT_GT(input.nnz(), 100000);
    for (double f : {0.05, 0.2, 0.5, 0.9}) {
        auto s = random_split(input, f, 1, 2);
        double got = static_cast<double>(s.test.nnz()) / static_cast<double>(input.nnz());
        EXPECT_NEAR(got, f, 0.01) << "fraction " << f;
    }
}

TEST(Split, DeterministicPerSeedAndThreads) {
    Csr input = random_interactions();
    auto a = random_split(input, 0.3, 9, 1);
    auto b = random_split(input, 0.3, 9, 2);
    auto c = random_split(input, 0.3, 9, 2);
    EXPECT_TRUE(same_csr(a.test, b.test));
    EXPECT_TRUE(same_csr(a.train, b.train));
    EXPECT_TRUE(same_csr(b.test, c.test));
    auto d = random_split(input, 0.3, 10, 2);
    EXPECT_FALSE(same_csr(a.test, d.test));
    // and the seeds are not merely shifted copies: most test items differ
    std::int64_t common = 0;
    for (std::int64_t u = 0; u < input.rows; ++u)
        for (auto i : a.test.row_indices(u)) common += d.test.at(u, i) != 0.0f;
    EXPECT_LT(common, a.test.nnz() / 2);
}

TEST(Split, EmptyRowsAndEmptyMatrix) {
    auto m = make_test(4, {{}, {0, 1, 2, 3}, {}});
    auto s = random_split(m, 0.5, 3);
    EXPECT_EQ(s.train.rows, 3);
    EXPECT_EQ(s.train.row_nnz(0) + s.test.row_nnz(0), 0);
    EXPECT_EQ(s.train.row_nnz(1) + s.test.row_nnz(1), 4);
    auto e = random_split(make_test(4, {}), 0.5, 3);
    EXPECT_EQ(e.train.nnz() + e.test.nnz(), 0);
    e.test.validate("empty test");
}

TEST(Split, RejectsFractionOutsideOpenUnitInterval) {
    auto m = make_test(4, {{1, 2}});
    for (double f : {0.0, 1.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
        try {
            random_split(m, f, 1);
            FAIL() << "accepted " << f;
        } catch (const OptionError& e) {
            EXPECT_NE(std::string(e.what()).find("test-fraction must be between 0 and 1"), std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// 3 users x 5 items. Related lists (first 2 count at k = 2): 0 -> [1, 2, 3], 1 -> [0, 4], 2 -> [], 3 -> [4],
// 4 -> [3]. User 0 trained on {0}, held out {2, 3}: reached {1, 2} -> 1 hit of 2. User 1 trained on
// {1, 3}, held out {4}: reached {0, 4} + {4} -> 1 of 1. User 2 trained on nothing: skipped.
TEST(RelatedHitRate, KnownAnswer) {
    std::vector<std::vector<ScoredItem>> related = {{{1, .9f}, {2, .8f}, {3, .7f}}, {{0, .5f}, {4, .4f}}, {}, {{4, 1}}, {{3, 1}}};
    auto train = Csr::from_triplets(3, 5, std::vector<std::int32_t>{0, 1, 1}, std::vector<std::int32_t>{0, 1, 3},
                                    std::vector<float>{1, 1, 1}, 1);
    auto test = Csr::from_triplets(3, 5, std::vector<std::int32_t>{0, 0, 1, 2}, std::vector<std::int32_t>{2, 3, 4, 0},
                                   std::vector<float>{1, 1, 1, 1}, 1);
    auto r = related_hit_rate_at_k(related, train, test, 2, 2);
    EXPECT_EQ(r.pairs, 3);
    EXPECT_EQ(r.hits, 2);
    EXPECT_EQ(r.users, 2);
    EXPECT_DOUBLE_EQ(r.hit_rate, 2.0 / 3.0);
    // k = 3 reaches item 3 from item 0 too.
    EXPECT_EQ(related_hit_rate_at_k(related, train, test, 3, 1).hits, 3);
    EXPECT_THROW(related_hit_rate_at_k(related, train, test, 0), OptionError);
    related.pop_back();
    EXPECT_THROW(related_hit_rate_at_k(related, train, test, 2), Error);
}

}  // namespace
}  // namespace encore
