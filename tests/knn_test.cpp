// Item-item KNN: the stored neighbours and similarities equal a brute-force computation, for each
// similarity; recommendation scores are the sums over played items; thread count does not matter.
#include "encore/models/knn.hpp"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "encore/data/weighting.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/knn_queries.hpp"
#include "encore/util/error.hpp"

namespace encore {
namespace {

Csr random_plays(int users, int items, double density, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coin(0, 1);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int u = 0; u < users; ++u)
        for (int i = 0; i < items; ++i)
            if (coin(rng) < density) r.push_back(u), c.push_back(i), v.push_back(static_cast<float>(1 + rng() % 200));
    return Csr::from_triplets(users, items, r, c, v, 1);
}

// Dense brute force: weighted item vectors, all pairwise dots, top K by (score desc, index asc).
std::vector<std::vector<std::pair<std::int32_t, double>>> brute(const Csr& plays, const KnnOptions& o) {
    Csr w = plays;
    if (o.similarity == KnnSimilarity::tfidf)
        w = apply_weighting(plays, fit_weighting(plays, {.kind = WeightingKind::tfidf}), 1);
    if (o.similarity == KnnSimilarity::bm25)
        w = apply_weighting(plays, fit_weighting(plays, {.kind = WeightingKind::bm25, .K1 = o.K1, .B = o.B}), 1);
    const auto n = plays.cols;
    std::vector<std::vector<double>> vec(static_cast<std::size_t>(n), std::vector<double>(static_cast<std::size_t>(plays.rows), 0.0));
    for (std::int64_t u = 0; u < w.rows; ++u)
        for (auto k = w.indptr[u]; k < w.indptr[u + 1]; ++k) vec[w.indices[k]][u] = w.values[k];
    if (o.similarity != KnnSimilarity::bm25)
        for (auto& x : vec) {
            double s = 0;
            for (double y : x) s += y * y;
            if (s > 0)
                for (double& y : x) y /= std::sqrt(s);
        }
    std::vector<std::vector<std::pair<std::int32_t, double>>> out(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        std::vector<std::pair<std::int32_t, double>> all;
        for (std::int64_t j = 0; j < n; ++j) {
            if (j == i) continue;
            double s = 0;
            for (std::int64_t u = 0; u < plays.rows; ++u) s += vec[i][u] * vec[j][u];
            if (s > 0) all.push_back({static_cast<std::int32_t>(j), s});
        }
        std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        if (all.size() > static_cast<std::size_t>(o.K)) all.resize(static_cast<std::size_t>(o.K));
        out[i] = all;
    }
    return out;
}

class KnnBrute : public ::testing::TestWithParam<KnnSimilarity> {};

TEST_P(KnnBrute, NeighboursEqualBruteForce) {
    auto plays = random_plays(40, 30, 0.2, 5);
    KnnOptions o{.similarity = GetParam(), .K = 6, .K1 = 5, .B = 0.5f, .threads = 2};
    Csr S = train_knn(plays, o);
    S.validate("knn");
    ASSERT_EQ(S.rows, 30);
    auto expect = brute(plays, o);
    for (std::int64_t i = 0; i < S.rows; ++i) {
        ASSERT_EQ(static_cast<std::size_t>(S.row_nnz(i)), expect[i].size()) << "item " << i;
        for (const auto& [j, s] : expect[i]) {
            // Near-ties may swap the K-th neighbour; the similarity values must match either way.
            float got = S.at(i, j);
            if (got == 0.0f) {
                EXPECT_NEAR(s, expect[i].back().second, 1e-5 * std::max(1.0, s)) << i << "," << j;
                continue;
            }
            EXPECT_NEAR(got, s, 1e-5 * std::max(1.0, s)) << i << "," << j;
        }
    }
    // Same answer for one thread.
    o.threads = 1;
    Csr S1 = train_knn(plays, o);
    ASSERT_EQ(S1.nnz(), S.nnz());
    for (std::int64_t k = 0; k < S.nnz(); ++k) {
        EXPECT_EQ(S1.indices[k], S.indices[k]);
        EXPECT_EQ(S1.values[k], S.values[k]);
    }
}

INSTANTIATE_TEST_SUITE_P(Similarities, KnnBrute,
                         ::testing::Values(KnnSimilarity::cosine, KnnSimilarity::tfidf, KnnSimilarity::bm25),
                         [](const auto& info) { return std::string(knn_similarity_name(info.param)); });

TEST(Knn, RecommendSumsNeighbourScoresAndExplainsThem) {
    auto plays = random_plays(30, 25, 0.25, 9);
    Model m;
    m.kind = "knn";
    m.item_neighbours = train_knn(plays, {.K = 5, .threads = 1});
    m.user_factors = Matrix(30, 0);
    m.item_factors = Matrix(25, 0);
    m.user_items = plays;
    auto played = plays.row_indices(2);
    auto conf = plays.row_values(2);
    auto recs = knn_recommend(m, played, conf, {}, true, 100, 3);
    ASSERT_FALSE(recs.empty());
    for (const auto& r : recs) {
        double expect = 0;
        for (std::size_t k = 0; k < played.size(); ++k) expect += conf[k] * m.item_neighbours.at(played[k], r.id);
        EXPECT_NEAR(r.score, expect, 1e-4 * std::max(1.0, expect));
        EXPECT_FALSE(std::binary_search(played.begin(), played.end(), r.id));
        float total = 0;
        knn_explain(m, played, conf, r.id, 100, &total);
        EXPECT_NEAR(total, r.score, 1e-4 * std::max(1.0f, r.score));
        ASSERT_FALSE(r.because.empty());
        EXPECT_LE(r.because.size(), 3u);
    }
    for (std::size_t k = 1; k < recs.size(); ++k) EXPECT_GE(recs[k - 1].score, recs[k].score);
}

TEST(Knn, BadOptionsAreErrors) {
    auto plays = random_plays(5, 5, 0.5, 1);
    EXPECT_THROW(train_knn(plays, {.K = 0}), OptionError);
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// The bm25 similarity's defaults are implicit's BM25Recommender's (K1 1.2, B 0.75, K 20): with them and
// raw plays encore's knn matches implicit's Last.fm 2K figures (README, "Choosing a model").
TEST(KnnDefaults, Bm25SimilarityUsesImplicitsParameters) {
    KnnOptions o;
    EXPECT_FLOAT_EQ(o.K1, 1.2f);
    EXPECT_FLOAT_EQ(o.B, 0.75f);
    EXPECT_EQ(o.K, 20);
    EXPECT_EQ(o.similarity, KnnSimilarity::cosine);  // the model's default stays cosine (on log weighting)
}

}  // namespace
}  // namespace encore
