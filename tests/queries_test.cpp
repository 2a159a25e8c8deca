#include "encore/query/queries.hpp"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "encore/models/als.hpp"
#include "encore/util/error.hpp"
#include "queries_fixture.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::brute_rank;
using testing::small_model;

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

void expect_sorted(const std::vector<Recommendation>& r) {
    for (std::size_t i = 1; i < r.size(); ++i)
        EXPECT_TRUE(r[i - 1].score > r[i].score || (r[i - 1].score == r[i].score && r[i - 1].id < r[i].id)) << i;
}

bool contains(const std::vector<Recommendation>& r, std::int32_t id) {
    return std::any_of(r.begin(), r.end(), [&](const Recommendation& x) { return x.id == id; });
}

TEST(Queries, RelatedExcludesSelfAndEqualsBruteForceCosine) {
    auto m = small_model();
    for (std::int32_t item : {0, 5, 39}) {
        auto r = related_items(m, item, {}, {.n = 10, .threads = 2});
        ASSERT_EQ(r.size(), 10u);
        EXPECT_FALSE(contains(r, item));
        expect_sorted(r);
        auto want = brute_rank(m.item_factors, m.item_factors.row_span(item), true);
        std::erase_if(want, [&](auto& p) { return p.first == item; });
        for (std::size_t i = 0; i < r.size(); ++i) {
            EXPECT_EQ(r[i].id, want[i].first) << "rank " << i;
            EXPECT_NEAR(r[i].score, want[i].second, 1e-5);
        }
    }
    // n larger than the catalogue: every other item exactly once.
    auto all = related_items(m, 3, {}, {.n = 100});
    EXPECT_EQ(all.size(), 39u);
}

TEST(Queries, RelatedAllEqualsSingleQueries) {
    auto m = small_model();
    auto batch = related_all(m, {}, {.n = 7, .threads = 2});
    ASSERT_EQ(batch.size(), 40u);
    for (std::int32_t item = 0; item < 40; ++item) {
        auto one = related_items(m, item, {}, {.n = 7});
        ASSERT_EQ(batch[static_cast<std::size_t>(item)].size(), one.size());
        for (std::size_t i = 0; i < one.size(); ++i) {
            EXPECT_EQ(batch[static_cast<std::size_t>(item)][i].id, one[i].id);
            EXPECT_NEAR(batch[static_cast<std::size_t>(item)][i].score, one[i].score, 1e-5f);
        }
    }
}

TEST(Queries, RecommendFiltersPlayedIncludingDislikes) {
    auto m = small_model();
    auto r = recommend_user(m, 0, {}, {.n = 40});
    ASSERT_EQ(r.size(), 37u);  // 40 items minus the 3 played (one of them a dislike)
    for (std::int32_t played : {1, 4, 7}) EXPECT_FALSE(contains(r, played)) << played;
    expect_sorted(r);
    auto want = brute_rank(m.item_factors, m.user_factors.row_span(0), false);
    std::erase_if(want, [](auto& p) { return p.first == 1 || p.first == 4 || p.first == 7; });
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].id, want[i].first) << i;
        EXPECT_NEAR(r[i].score, want[i].second, 1e-5);
    }
    // --include-played: the full ranking, played items in their place.
    auto inc = recommend_user(m, 0, {}, {.n = 40, .filter_played = false});
    ASSERT_EQ(inc.size(), 40u);
    auto full = brute_rank(m.item_factors, m.user_factors.row_span(0), false);
    for (std::size_t i = 0; i < inc.size(); ++i) EXPECT_EQ(inc[i].id, full[i].first) << i;
}

TEST(Queries, RecommendAllEqualsSingleQueries) {
    auto m = small_model();
    for (bool filter_played : {true, false}) {
        QueryOptions o{.n = 5, .filter_played = filter_played, .explain = 2, .threads = 2};
        auto batch = recommend_all(m, {}, o);
        ASSERT_EQ(batch.size(), 12u);
        for (std::int32_t u = 0; u < 12; ++u) {
            auto one = recommend_user(m, u, {}, o);
            const auto& b = batch[static_cast<std::size_t>(u)];
            ASSERT_EQ(b.size(), one.size());
            for (std::size_t i = 0; i < one.size(); ++i) {
                EXPECT_EQ(b[i].id, one[i].id);
                EXPECT_NEAR(b[i].score, one[i].score, 1e-5f);
                ASSERT_EQ(b[i].because.size(), one[i].because.size());
                for (std::size_t j = 0; j < one[i].because.size(); ++j) {
                    EXPECT_EQ(b[i].because[j].item, one[i].because[j].item);
                    EXPECT_FLOAT_EQ(b[i].because[j].score, one[i].because[j].score);
                }
            }
        }
    }
}

TEST(Queries, ResultCountsHonourOnlyAndExcludeLists) {
    auto m = small_model();
    testing::TempDir dir;
    // Keys, display names, a case-insensitive name, comments, blank lines and CRLF ends.
    auto only = dir.write("only.txt", "# my picks\nkey-4\r\n\n  Radiohead  \nartist 20\n");
    auto f = ItemFilter::from_files(m, only, "");
    ASSERT_EQ(f.allowed.size(), 40u);
    EXPECT_EQ(std::count(f.allowed.begin(), f.allowed.end(), 1), 3);
    EXPECT_TRUE(f.allowed[4] && f.allowed[1] && f.allowed[20]);

    // User 0 played items 1 and 4: one result left; with played items kept, all three.
    auto r = recommend_user(m, 0, f, {.n = 10});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].id, 20);
    EXPECT_EQ(recommend_user(m, 0, f, {.n = 10, .filter_played = false}).size(), 3u);
    EXPECT_EQ(recommend_user(m, 0, f, {.n = 2, .filter_played = false}).size(), 2u);
    // Related to an item in the list: the other two.
    auto rel = related_items(m, 4, f, {.n = 10});
    ASSERT_EQ(rel.size(), 2u);
    EXPECT_FALSE(contains(rel, 4));
    for (const auto& batch : related_all(m, f, {.n = 10, .threads = 2}))
        for (const auto& x : batch) EXPECT_TRUE(f.allowed[static_cast<std::size_t>(x.id)]);
    for (const auto& batch : recommend_all(m, f, {.n = 10, .threads = 2})) EXPECT_LE(batch.size(), 3u);

    // Exclude drops items everywhere; with both, only minus exclude.
    auto excl = dir.write("exclude.txt", "The Beatles\nkey-20\n");
    auto e = ItemFilter::from_files(m, "", excl);
    EXPECT_EQ(std::count(e.allowed.begin(), e.allowed.end(), 1), 38);
    auto rel0 = related_items(m, 5, e, {.n = 40});
    EXPECT_EQ(rel0.size(), 37u);  // 40 minus self minus two excluded
    EXPECT_FALSE(contains(rel0, 0));
    EXPECT_FALSE(contains(rel0, 20));
    auto both = ItemFilter::from_files(m, only, excl);
    EXPECT_EQ(std::count(both.allowed.begin(), both.allowed.end(), 1), 2);
    EXPECT_TRUE(ItemFilter::from_files(m, "", "").allowed.empty());
}

TEST(Queries, ItemListErrorsNameFileAndLine) {
    auto m = small_model();
    testing::TempDir dir;
    auto bad = dir.write("bad.txt", "key-1\n# fine\nRadiohed\n");
    auto msg = error_of([&] { ItemFilter::from_files(m, bad, ""); });
    EXPECT_EQ(msg.rfind(bad + ":3: unknown item 'Radiohed'", 0), 0u) << msg;
    EXPECT_NE(msg.find("did you mean: Radiohead?"), std::string::npos) << msg;
    auto missing = dir.file("missing.txt");
    EXPECT_NE(error_of([&] { ItemFilter::from_files(m, "", missing); }).find(missing + ": cannot open"),
              std::string::npos);
}

TEST(Queries, ResolveItemByKeyNameAndCaseInsensitiveName) {
    auto m = small_model();
    EXPECT_EQ(resolve_item(m, "key-7"), 7);
    EXPECT_EQ(resolve_item(m, "Radiohead"), 1);
    EXPECT_EQ(resolve_item(m, "the beatles"), 0);
    EXPECT_EQ(resolve_item(m, "KEY-3"), 3);  // no display name: its key, ignoring case
    EXPECT_EQ(resolve_item(m, "Artist 12"), 12);
    auto msg = error_of([&] { resolve_item(m, "Beatles"); });
    // Not an exact or case-insensitive match: a substring of two names, both suggested.
    EXPECT_EQ(msg, "unknown item 'Beatles'; did you mean: The Beatles, Beatles Tribute Band?") << msg;
    EXPECT_EQ(error_of([&] { resolve_item(m, "zzzzzzzzzzzzzzzzz"); }), "unknown item 'zzzzzzzzzzzzzzzzz'");
}

TEST(Queries, ResolveUser) {
    auto m = small_model();
    EXPECT_EQ(resolve_user(m, "user-11"), 11);
    auto msg = error_of([&] { resolve_user(m, "user-99"); });
    EXPECT_EQ(msg.rfind("unknown user 'user-99'; did you mean: ", 0), 0u) << msg;
}

TEST(Queries, ExplainSumsToTheExactScore) {
    auto m = small_model();
    const std::int32_t u = 5;
    auto played = m.user_items.row_indices(u);
    auto conf = m.user_items.row_values(u);
    ASSERT_GE(played.size(), 3u);
    // Make x_u the exact ALS solution for its confidences.
    auto gram = als_gram(m.item_factors, m.regularization, 1);
    als_solve_row(gram, m.item_factors, played, conf, m.user_factors.row(u));
    const std::int64_t k = m.factors();
    for (std::int32_t item = 0; item < 40; ++item) {
        float total = 0;
        auto c = explain(m, played, conf, item, 3, &total);
        double dot = 0, xn = 0, yn = 0;
        for (std::int64_t j = 0; j < k; ++j) {
            dot += static_cast<double>(m.user_factors(u, j)) * m.item_factors(item, j);
            xn += static_cast<double>(m.user_factors(u, j)) * m.user_factors(u, j);
            yn += static_cast<double>(m.item_factors(item, j)) * m.item_factors(item, j);
        }
        // 1e-4 relative to the score, or to |x||y| when the score itself is near zero.
        EXPECT_NEAR(total, dot, 1e-4 * std::max(std::fabs(dot), 0.05 * std::sqrt(xn * yn))) << item;
        ASSERT_EQ(c.size(), 3u);
        for (std::size_t i = 1; i < c.size(); ++i) EXPECT_GE(c[i - 1].score, c[i].score);
        for (const auto& x : c) EXPECT_TRUE(std::find(played.begin(), played.end(), x.item) != played.end());
    }
    // The top contributions are the largest of all of them.
    float total = 0;
    auto every = explain(m, played, conf, 9, 1000, &total);
    EXPECT_EQ(every.size(), played.size());
    double sum = 0;
    for (const auto& x : every) sum += x.score;
    EXPECT_NEAR(sum, total, 1e-5 * (1 + std::fabs(total)));
    auto top2 = explain(m, played, conf, 9, 2);
    EXPECT_EQ(top2[0].item, every[0].item);
    EXPECT_EQ(top2[1].item, every[1].item);
}

TEST(Queries, ExplainIgnoresDislikesAsContributors) {
    auto m = small_model();
    auto played = m.user_items.row_indices(0);  // 1, 4, 7 (7 disliked)
    auto conf = m.user_items.row_values(0);
    auto c = explain(m, played, conf, 20, 10);
    ASSERT_EQ(c.size(), 2u);
    for (const auto& x : c) EXPECT_NE(x.item, 7);
    // recommend_user with explain fills `because` with the same contributions.
    auto r = recommend_user(m, 0, {}, {.n = 3, .explain = 5});
    ASSERT_EQ(r.size(), 3u);
    for (const auto& rec : r) {
        auto want = explain(m, played, conf, rec.id, 5);
        ASSERT_EQ(rec.because.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(rec.because[i].item, want[i].item);
            EXPECT_NEAR(rec.because[i].score, want[i].score, 1e-6f * (1 + std::fabs(want[i].score)));
        }
    }
    EXPECT_TRUE(recommend_user(m, 0, {}, {.n = 3}).front().because.empty());
}

TEST(Queries, SimilarUsersExcludesSelf) {
    auto m = small_model();
    auto r = similar_users(m, 4, {.n = 5});
    ASSERT_EQ(r.size(), 5u);
    EXPECT_FALSE(contains(r, 4));
    auto want = brute_rank(m.user_factors, m.user_factors.row_span(4), true);
    std::erase_if(want, [](auto& p) { return p.first == 4; });
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].id, want[i].first);
        EXPECT_NEAR(r[i].score, want[i].second, 1e-5);
    }
    EXPECT_EQ(similar_users(m, 0, {.n = 50}).size(), 11u);
}

TEST(Queries, BadArgumentsAreErrors) {
    auto m = small_model();
    EXPECT_NE(error_of([&] { recommend_user(m, 12, {}, {}); }).find("user index 12 out of range"), std::string::npos);
    EXPECT_NE(error_of([&] { related_items(m, -1, {}, {}); }).find("item index -1 out of range"), std::string::npos);
    EXPECT_NE(error_of([&] { related_items(m, 0, {}, {.n = -1}); }).find("at least 0"), std::string::npos);
    ItemFilter wrong;
    wrong.allowed.assign(5, 1);
    EXPECT_NE(error_of([&] { recommend_user(m, 0, wrong, {}); }).find("item filter has 5 entries"), std::string::npos);
    std::vector<std::int32_t> items = {1, 2};
    std::vector<float> conf = {1.0f};
    EXPECT_NE(error_of([&] { explain(m, items, conf, 0, 3); }).find("2 played items but 1 confidences"),
              std::string::npos);
    EXPECT_TRUE(related_items(m, 0, {}, {.n = 0}).empty());
}

}  // namespace
}  // namespace encore
