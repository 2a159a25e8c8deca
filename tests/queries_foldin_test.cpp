// recommend_new_user: needs the real weigh_row (encore/data/weighting.cpp) linked in.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "encore/models/als.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "queries_fixture.hpp"

namespace encore {
namespace {

using testing::brute_rank;
using testing::small_model;

// The fixture weighs linearly with alpha = 2: c = 1 + 2 x.
std::vector<float> linear_conf(const std::vector<float>& x) {
    std::vector<float> c;
    for (float v : x) c.push_back(1.0f + 2.0f * v);
    return c;
}

TEST(QueriesFoldIn, NewUserIsTheExactSolveForWeightedPlays) {
    auto m = small_model();
    // Unsorted with a duplicate: item 9 twice sums to 3 plays.
    std::vector<std::int32_t> items = {12, 9, 30, 9};
    std::vector<float> plays = {4.0f, 1.0f, 7.0f, 2.0f};
    auto r = recommend_new_user(m, items, plays, {}, {.n = 50});
    ASSERT_EQ(r.size(), 37u);  // 40 items minus 3 distinct played
    for (std::int32_t i : {9, 12, 30}) EXPECT_FALSE(std::any_of(r.begin(), r.end(), [&](auto& x) { return x.id == i; }));

    std::vector<std::int32_t> ids = {9, 12, 30};
    auto conf = linear_conf({3.0f, 4.0f, 7.0f});
    auto gram = als_gram(m.item_factors, m.regularization, 1);
    std::vector<float> x(static_cast<std::size_t>(m.factors()));
    als_solve_row(gram, m.item_factors, ids, conf, x.data());
    auto want = brute_rank(m.item_factors, x, false);
    std::erase_if(want, [](auto& p) { return p.first == 9 || p.first == 12 || p.first == 30; });
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].id, want[i].first) << i;
        EXPECT_NEAR(r[i].score, want[i].second, 1e-4 * (1 + std::fabs(want[i].second)));
    }
    // Played items kept on request.
    EXPECT_EQ(recommend_new_user(m, items, plays, {}, {.n = 50, .filter_played = false}).size(), 40u);
}

TEST(QueriesFoldIn, ExplanationsAddUpToTheScore) {
    auto m = small_model();
    std::vector<std::int32_t> items = {3, 8, 15, 22};
    auto r = recommend_new_user(m, items, {}, {}, {.n = 4, .explain = 10});  // no plays: typical confidences
    ASSERT_EQ(r.size(), 4u);
    for (const auto& rec : r) {
        ASSERT_EQ(rec.because.size(), 4u);
        double sum = 0;
        for (const auto& c : rec.because) sum += c.score;
        EXPECT_NEAR(sum, rec.score, 1e-3 * (1 + std::fabs(rec.score)));
        for (std::size_t i = 1; i < rec.because.size(); ++i) EXPECT_GE(rec.because[i - 1].score, rec.because[i].score);
    }
}

TEST(QueriesFoldIn, WithoutPlaysEachItemGetsItsMeanTrainingConfidence) {
    auto m = small_model();
    std::vector<std::int32_t> ids = {2, 5, 17};
    std::vector<float> conf(ids.size(), 0.0f);
    for (std::size_t j = 0; j < ids.size(); ++j) {
        double sum = 0;
        int n = 0;
        for (std::int64_t u = 0; u < m.user_items.rows; ++u) {
            float c = m.user_items.at(u, ids[j]);
            if (c > 0) {
                sum += c;
                ++n;
            }
        }
        ASSERT_GT(n, 0) << "fixture item " << ids[j] << " has listeners";
        conf[j] = static_cast<float>(sum / n);
    }
    auto gram = als_gram(m.item_factors, m.regularization, 1);
    std::vector<float> x(static_cast<std::size_t>(m.factors()));
    als_solve_row(gram, m.item_factors, ids, conf, x.data());
    auto want = brute_rank(m.item_factors, x, false);
    std::erase_if(want, [&](auto& p) { return std::find(ids.begin(), ids.end(), p.first) != ids.end(); });
    auto r = recommend_new_user(m, ids, {}, {}, {.n = 5});
    ASSERT_EQ(r.size(), 5u);
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].id, want[i].first) << i;
        EXPECT_NEAR(r[i].score, want[i].second, 1e-4 * (1 + std::fabs(want[i].second)));
    }
}

TEST(QueriesFoldIn, BadInputIsAnError) {
    auto m = small_model();
    std::vector<std::int32_t> none;
    EXPECT_THROW(recommend_new_user(m, none, {}, {}, {}), Error);
    std::vector<std::int32_t> out_of_range = {40};
    EXPECT_THROW(recommend_new_user(m, out_of_range, {}, {}, {}), Error);
    std::vector<std::int32_t> two = {1, 2};
    std::vector<float> one = {1.0f};
    EXPECT_THROW(recommend_new_user(m, two, one, {}, {}), Error);
}

}  // namespace
}  // namespace encore
