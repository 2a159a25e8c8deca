// The model family on planted-structure synthetic data: every model beats the popularity baseline on
// held-out NDCG@10 (same seeded split for all), every kind saves and loads, and the queries work for it.
#include <gtest/gtest.h>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/eval/metrics.hpp"
#include "encore/eval/split.hpp"
#include "encore/kinds/family.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {

// Test names and failure messages show a kind by name (ModelKind is a pointer into the registry).
inline void PrintTo(const ModelType* kind, std::ostream* os) { *os << kind->name(); }

namespace {

using SynthData = testing::SynthSplit;

const SynthData& synth() {
    static SynthData* d = [] {
        testing::TempDir dir;
        SynthOptions so{.users = 400, .items = 300, .genres = 8, .max_items_per_user = 20, .seed = 3, .threads = 2};
        return new SynthData(testing::synth_split(dir.file("plays.tsv"), so, 7));
    }();
    return *d;
}

ModelOptions small_options(ModelKind kind) {
    auto o = default_model_options(kind);
    o.threads = 2;
    o.als.factors = o.lsa.factors = o.bpr.factors = o.lmf.factors = 16;
    o.als.iterations = 8;
    o.bpr.iterations = 40;
    o.lmf.iterations = 30;
    o.lmf.learning_rate = 0.2f;  // few ratings per row: larger steps than the Last.fm default
    o.bpr.threads = 1;
    return o;
}

double ndcg(const Model& m, const Csr& test) {
    QueryOptions q;
    q.n = 10;
    q.threads = 2;
    auto recs = recommend_all(m, ItemFilter{}, q);
    std::vector<std::vector<ScoredItem>> lists(recs.size());
    for (std::size_t u = 0; u < recs.size(); ++u)
        for (const auto& r : recs[u]) lists[u].push_back({r.id, r.score});
    return ranking_metrics_at_k(lists, test, 10, 2).ndcg;
}

class Family : public ::testing::TestWithParam<ModelKind> {};

TEST_P(Family, BeatsPopularityOnHeldOutNdcg) {
    const auto& d = synth();
    auto popular = train_model(d.train, small_options(parse_model_kind("popular")), "test");
    auto model = train_model(d.train, small_options(GetParam()), "test");
    EXPECT_EQ(model.kind, model_kind_name(GetParam()));
    const double base = ndcg(popular, d.split.test), got = ndcg(model, d.split.test);
    // Planted genres: a model that learns them ranks far above popularity (margin: 1.3x).
    EXPECT_GT(got, 1.3 * base) << model.kind << ": " << got << " vs popularity " << base;
}

TEST_P(Family, SavesLoadsAndAnswersQueries) {
    const auto& d = synth();
    auto model = train_model(d.train, small_options(GetParam()), "test");
    testing::TempDir dir;
    save_model(model, dir.file("m.encm"));
    auto back = load_model(dir.file("m.encm"));
    EXPECT_EQ(back.kind, model.kind);
    EXPECT_EQ(back.n_items(), model.n_items());
    EXPECT_EQ(back.n_users(), model.n_users());
    EXPECT_EQ(back.item_neighbours.nnz(), model.item_neighbours.nnz());
    QueryOptions q;
    q.n = 5;
    q.explain = 2;
    q.threads = 2;
    auto a = recommend_user(model, 3, ItemFilter{}, q);
    auto b = recommend_user(back, 3, ItemFilter{}, q);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    auto played = model.user_items.row_indices(3);
    for (std::size_t k = 0; k < a.size(); ++k) {
        EXPECT_EQ(a[k].id, b[k].id);
        EXPECT_FALSE(std::binary_search(played.begin(), played.end(), a[k].id));
        if (k > 0) {
            EXPECT_GE(a[k - 1].score, a[k].score);
        }
        // Explanations name played items, for every model but the popularity baseline.
        if (model.kind != "popular") {
            EXPECT_FALSE(a[k].because.empty()) << model.kind;
        }
        for (const auto& c : a[k].because) EXPECT_TRUE(std::binary_search(played.begin(), played.end(), c.item));
    }
    auto rel = related_items(back, 0, ItemFilter{}, q);
    EXPECT_FALSE(rel.empty());
    for (const auto& r : rel) EXPECT_NE(r.id, 0);
    auto all = related_all(back, ItemFilter{}, q);
    ASSERT_EQ(static_cast<std::int64_t>(all.size()), back.n_items());
    ASSERT_EQ(all[0].size(), rel.size());
    for (std::size_t k = 0; k < rel.size(); ++k) EXPECT_EQ(all[0][k].id, rel[k].id);
    // A new user who played what user 3 played gets recommendations too.
    std::vector<std::int32_t> items(played.begin(), played.end());
    auto fresh = recommend_new_user(back, items, {}, ItemFilter{}, q);
    EXPECT_FALSE(fresh.empty());
}

INSTANTIATE_TEST_SUITE_P(Models, Family,
                         ::testing::Values(parse_model_kind("als"), parse_model_kind("lsa"), parse_model_kind("bpr"), parse_model_kind("lmf"), parse_model_kind("knn")),
                         [](const auto& info) { return std::string(model_kind_name(info.param)); });

TEST(FamilyOptions, KindsParseAndBadOnesAreErrors) {
    for (const ModelType* t : model_types()) EXPECT_EQ(model_kind_name(parse_model_kind(t->name())), t->name());
    try {
        parse_model_kind("svd");
        FAIL();
    } catch (const OptionError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown model 'svd'"), std::string::npos);
    }
    EXPECT_THROW(parse_knn_similarity("jaccard"), OptionError);
}

TEST(FamilyOptions, KnnSimilarUsersIsAClearError) {
    const auto& d = synth();
    auto model = train_model(d.train, small_options(parse_model_kind("knn")), "test");
    EXPECT_THROW(similar_users(model, 0, QueryOptions{}), Error);
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(FamilyCli, EvalComparesModelsAsJsonAndRejectsBadOptions) {
    testing::TempDir dir;
    auto tsv = dir.file("plays.tsv");
    write_synth(tsv, {.users = 200, .items = 150, .genres = 6, .max_items_per_user = 15, .seed = 1, .threads = 2});
    auto r = testing::run_cli(fmt::format(
        "eval {} --format lastfm360k --models als,knn,popular --factors 8 --als.iterations 3 --k 5 --seed 2 --threads 2 --json --quiet",
        tsv));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    ASSERT_TRUE(j.contains("models"));
    for (auto name : {"als", "knn", "popular"}) {
        ASSERT_TRUE(j["models"].contains(name)) << name;
        for (auto key : {"precision@5", "map@5", "ndcg@5", "auc", "train_seconds", "train_peak_mb"})
            EXPECT_TRUE(j["models"][name].contains(key)) << name << " " << key;
    }
    EXPECT_GT(j["models"]["knn"]["ndcg@5"].get<double>(), j["models"]["popular"]["ndcg@5"].get<double>());

    auto bad = testing::run_cli(fmt::format("eval {} --format lastfm360k --models bpr --bpr.learning-rate fast --quiet", tsv));
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("--bpr.learning-rate: learning-rate must be a number, got 'fast'"), std::string::npos) << bad.output;
    auto unknown = testing::run_cli(fmt::format("train {} --format lastfm360k --model svd -o {} --quiet", tsv, dir.file("m.encm")));
    EXPECT_NE(unknown.status, 0);
    EXPECT_NE(unknown.output.find("unknown model 'svd'"), std::string::npos) << unknown.output;
    auto knn = testing::run_cli(fmt::format("train {} --format lastfm360k --model knn --neighbours 10 -o {} --quiet", tsv,
                                            dir.file("knn.encm")));
    ASSERT_EQ(knn.status, 0) << knn.output;
    auto m = load_model(dir.file("knn.encm"));
    EXPECT_EQ(m.kind, "knn");
    EXPECT_EQ(m.info["options"]["neighbours"], 10);
    for (std::int64_t i = 0; i < m.n_items(); ++i) EXPECT_LE(m.item_neighbours.row_nnz(i), 10);
}

}  // namespace
}  // namespace encore
