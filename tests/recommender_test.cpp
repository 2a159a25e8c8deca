// The registry, every kind's Scorer (batch answers equal single ones), and the Recommender: it answers
// exactly as the free query functions, chooses exact / index / ensemble scoring from what it opened,
// checks files once at open, and is safe to query from many threads at once.
#include <atomic>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "encore/kinds/registry.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/kinds/family.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

// Small models of every kind on planted-structure data, saved in one temporary directory.
struct Fixture {
    testing::TempDir dir;
    Dataset data;
    std::vector<Model> models;  // in registry order
    std::string path(std::string_view kind) const { return dir.file(std::string(kind) + ".encm"); }
};

const Fixture& fixture() {
    // Owned by a static so that the temporary directory is removed at exit.
    static const std::unique_ptr<Fixture> f = [] {
        auto f = std::make_unique<Fixture>();
        SynthOptions so{.users = 300, .items = 200, .genres = 6, .max_items_per_user = 20, .seed = 5, .threads = 2};
        f->data = testing::synth_split(f->dir.file("plays.tsv"), so, 3).all;
        for (const ModelType* t : model_types()) {
            auto o = default_model_options(t);
            o.threads = 1;
            o.als.factors = o.lsa.factors = o.bpr.factors = o.lmf.factors = 8;
            o.als.iterations = 4;
            o.bpr.iterations = 5;
            o.lmf.iterations = 5;
            f->models.push_back(train_model(f->data, o, "test"));
            save_model(f->models.back(), f->path(t->name()));
        }
        return f;
    }();
    return *f;
}

std::vector<std::int32_t> ids(const std::vector<Recommendation>& recs) {
    std::vector<std::int32_t> out;
    for (const auto& r : recs) out.push_back(r.id);
    return out;
}

TEST(Registry, NamesKindsAndRejectsUnknownOnes) {
    std::vector<std::string> names;
    for (const ModelType* t : model_types()) {
        names.emplace_back(t->name());
        EXPECT_EQ(&model_type(t->name()), t);
        EXPECT_FALSE(t->description().empty());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"als", "lsa", "bpr", "lmf", "knn", "popular"}));
    EXPECT_EQ(find_model_type("nope"), nullptr);
    try {
        model_type("nope");
        FAIL();
    } catch (const OptionError& e) {
        EXPECT_STREQ(e.what(), "unknown model 'nope' (known: als, lsa, bpr, lmf, knn, popular)");
    }
    Model m = load_model(fixture().path("als"));
    m.kind = "mystery";
    EXPECT_THROW(open_scorer(m), Error);
    EXPECT_TRUE(is_model_kind("knn"));
    EXPECT_FALSE(is_model_kind("mystery"));
}

// Every kind: a batch answer equals the single answers, for related items and recommendations.
TEST(Kinds, BatchAnswersEqualSingleAnswers) {
    const auto& f = fixture();
    for (const Model& m : f.models) {
        auto scorer = open_scorer(m, 2);
        QueryOptions q;
        q.n = 7;
        q.threads = 2;
        auto rel = related_all(*scorer, ItemFilter{}, q);
        auto rec = recommend_all(*scorer, ItemFilter{}, q);
        ASSERT_EQ(static_cast<std::int64_t>(rel.size()), m.n_items());
        for (std::int32_t i = 0; i < m.n_items(); i += 13) {
            auto one = related_items(*scorer, i, ItemFilter{}, q);
            EXPECT_EQ(ids(rel[static_cast<std::size_t>(i)]), ids(one)) << m.kind << " item " << i;
            for (const auto& r : one) EXPECT_NE(r.id, i) << m.kind;
        }
        for (std::int32_t u = 0; u < m.n_users(); u += 17)
            EXPECT_EQ(ids(rec[static_cast<std::size_t>(u)]), ids(recommend_user(*scorer, u, ItemFilter{}, q)))
                << m.kind << " user " << u;
    }
}

TEST(Kinds, PopularRelatedIsTheListenerOrder) {
    const Model& m = fixture().models[5];
    ASSERT_EQ(m.kind, "popular");
    QueryOptions q;
    q.n = 5;
    auto rel = related_all(m, ItemFilter{}, q);
    for (const auto& list : rel)
        for (std::size_t r = 1; r < list.size(); ++r) EXPECT_GE(list[r - 1].score, list[r].score);
}

TEST(Recommender, AnswersAsTheFreeFunctions) {
    const auto& f = fixture();
    for (const Model& m : f.models) {
        auto rec = Recommender::open({.models = {f.path(m.kind)}});
        EXPECT_EQ(rec.related_scoring(), Scoring::exact);
        QueryOptions q;
        q.n = 6;
        q.explain = 2;
        for (std::int32_t i = 0; i < m.n_items(); i += 31)
            EXPECT_EQ(ids(rec.related(i, {.n = 6})), ids(related_items(m, i, ItemFilter{}, q))) << m.kind;
        for (std::int32_t u = 0; u < m.n_users(); u += 41) {
            auto a = rec.recommend(u, {.n = 6, .explain = 2});
            auto b = recommend_user(m, u, ItemFilter{}, q);
            ASSERT_EQ(ids(a), ids(b)) << m.kind;
            for (std::size_t r = 0; r < a.size(); ++r) EXPECT_EQ(a[r].because.size(), b[r].because.size());
        }
        auto all = rec.related_batch({}, {.n = 6});
        const std::int32_t some[] = {3, 1, 4};
        auto listed = rec.related_batch(some, {.n = 6});
        ASSERT_EQ(listed.size(), 3u);
        for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(ids(listed[k]), ids(all[static_cast<std::size_t>(some[k])]));
    }
}

TEST(Recommender, FiltersFromItemsInMemory) {
    const auto& f = fixture();
    auto rec = Recommender::open({.models = {f.path("als")}});
    const std::int32_t allow[] = {1, 2, 3, 4, 5};
    const std::int32_t deny[] = {2};
    auto filter = rec.filter(allow, deny);
    auto got = rec.related(0, {.n = 10, .filter = &filter});
    EXPECT_EQ(got.size(), 4u);
    for (const auto& r : got) EXPECT_TRUE(r.id == 1 || r.id == 3 || r.id == 4 || r.id == 5);
    auto denied = rec.filter({}, deny);
    for (const auto& r : rec.related(0, {.n = 50, .filter = &denied})) EXPECT_NE(r.id, 2);
    const std::int32_t bad[] = {100000};
    EXPECT_THROW(rec.filter(bad, {}), Error);
}

TEST(Recommender, ChoosesTheIndexAndChecksItOnce) {
    const auto& f = fixture();
    const Model& als = f.models[0];
    auto cosine = build_index(als.item_factors, {.kind = "graph", .metric = AnnMetric::cosine});
    cosine->save(f.dir.file("cos.enci"));
    auto dot = build_index(als.item_factors, {.kind = "forest", .metric = AnnMetric::dot});
    dot->save(f.dir.file("dot.enci"));
    auto rec = Recommender::open({.models = {f.path("als")}, .indexes = {f.dir.file("cos.enci"), f.dir.file("dot.enci")}});
    EXPECT_EQ(rec.related_scoring(), Scoring::index);
    EXPECT_EQ(rec.recommend_scoring(), Scoring::index);
    QueryOptions q;
    q.n = 5;
    EXPECT_EQ(ids(rec.related(7, {.n = 5})), ids(related_items_index(als, *cosine, 7, ItemFilter{}, q)));
    EXPECT_EQ(ids(rec.recommend(9, {.n = 5})), ids(recommend_user_index(als, *dot, 9, ItemFilter{}, q)));
    // An index of another model's factors is refused at open, naming the file.
    try {
        Recommender::open({.models = {f.path("lsa")}, .indexes = {f.dir.file("cos.enci")}});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cos.enci"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Recommender::open({.models = {f.path("als")}, .indexes = {f.dir.file("cos.enci"), f.dir.file("cos.enci")}}),
                 OptionError);
    EXPECT_THROW(Recommender::open({.models = {f.path("knn")}, .indexes = {f.dir.file("cos.enci")}}), Error);
}

TEST(Recommender, EnsembleOfSeveralModels) {
    const auto& f = fixture();
    auto rec = Recommender::open({.models = {f.path("als"), f.path("knn")}, .candidates = 20});
    EXPECT_EQ(rec.members(), 2);
    EXPECT_EQ(rec.related_scoring(), Scoring::ensemble);
    EnsembleScorer scorer(std::vector<const Model*>{&f.models[0], &f.models[4]});
    auto ens = equal_weight_ensemble(scorer.models(), 20);
    QueryOptions q;
    q.n = 8;
    EXPECT_EQ(ids(rec.related(2, {.n = 8})), ids(ensemble_related(scorer, ens, 2, ItemFilter{}, q)));
    EXPECT_EQ(ids(rec.recommend(3, {.n = 8})), ids(ensemble_recommend(scorer, ens, 3, ItemFilter{}, q)));
    EXPECT_THROW(rec.recommend(3, {.n = 8, .explain = 2}), OptionError);
    const std::int32_t items[] = {1, 2};
    EXPECT_THROW(rec.recommend_items(items, {}, {}), OptionError);
    EXPECT_THROW(Recommender::open({}), OptionError);
}

TEST(Recommender, BatchProgressAndCancellation) {
    const auto& f = fixture();
    auto rec = Recommender::open({.models = {f.path("als")}});
    Progress progress("related", 0, nullptr);
    auto all = rec.related_batch({}, {.n = 5}, {.threads = 2, .progress = &progress});
    EXPECT_EQ(static_cast<std::int64_t>(all.size()), rec.model().n_items());
    std::atomic<bool> cancel{true};
    EXPECT_THROW(rec.related_batch({}, {.n = 5}, {.cancel = &cancel}), Cancelled);
    EXPECT_THROW(rec.recommend_batch({}, {.n = 5}, {.cancel = &cancel}), Cancelled);
    const std::int32_t some[] = {1, 2, 3};
    EXPECT_THROW(rec.related_batch(some, {.n = 5}, {.cancel = &cancel}), Cancelled);
}

// A batch run in slices (first, count) answers as the whole batch: exact for every kind, through
// both indexes, and by the ensemble. Slices of 64 rows or more take the same blocked kernel, so the
// scores are equal too; a smaller one ranks the same items.
TEST(Recommender, BatchSlicesAnswerAsTheWholeBatch) {
    const auto& f = fixture();
    auto same = [](const std::vector<std::vector<Recommendation>>& whole,
                   const std::vector<std::vector<std::vector<Recommendation>>>& slices, bool scores) {
        std::size_t k = 0;
        for (const auto& slice : slices)
            for (const auto& r : slice) {
                ASSERT_LT(k, whole.size());
                EXPECT_EQ(ids(r), ids(whole[k])) << "query " << k;
                if (scores)
                    for (std::size_t j = 0; j < r.size() && j < whole[k].size(); ++j) {
                        EXPECT_EQ(r[j].score, whole[k][j].score) << "query " << k;
                        EXPECT_EQ(r[j].because.size(), whole[k][j].because.size());
                    }
                ++k;
            }
        EXPECT_EQ(k, whole.size());
    };
    ASSERT_GE(f.data.n_items(), 128);
    ASSERT_GE(f.data.n_users(), 128);
    auto check = [&](const Recommender& rec, const Query& related_q, const Query& recommend_q) {
        const auto n_items = rec.model().n_items(), n_users = rec.model().n_users();
        same(rec.related_batch({}, related_q),
             {rec.related_batch({}, related_q, {.first = 0, .count = 64}),
              rec.related_batch({}, related_q, {.first = 64, .count = n_items - 64 - 3}),
              rec.related_batch({}, related_q, {.first = n_items - 3})},
             false);
        same(rec.related_batch({}, related_q),
             {rec.related_batch({}, related_q, {.first = 0, .count = 64}),
              rec.related_batch({}, related_q, {.first = 64})},
             true);
        same(rec.recommend_batch({}, recommend_q),
             {rec.recommend_batch({}, recommend_q, {.first = 0, .count = 100}),
              rec.recommend_batch({}, recommend_q, {.first = 100, .count = 0}),
              rec.recommend_batch({}, recommend_q, {.first = 100, .count = n_users - 100})},
             true);
    };
    for (const ModelType* t : model_types()) {
        SCOPED_TRACE(t->name());
        auto rec = Recommender::open({.models = {f.path(t->name())}});
        check(rec, {.n = 7}, {.n = 7, .explain = 2});
    }
    build_index(f.models[0].item_factors, {.metric = AnnMetric::dot})->save(f.dir.file("slices-dot.enci"));
    build_index(f.models[0].item_factors, {.metric = AnnMetric::cosine})->save(f.dir.file("slices-cos.enci"));
    auto indexed = Recommender::open(
        {.models = {f.path("als")}, .indexes = {f.dir.file("slices-cos.enci"), f.dir.file("slices-dot.enci")}});
    ASSERT_EQ(indexed.related_scoring(), Scoring::index);
    check(indexed, {.n = 7}, {.n = 7});
    auto ensemble = Recommender::open({.models = {f.path("als"), f.path("knn")}, .candidates = 20});
    check(ensemble, {.n = 7}, {.n = 7});

    auto rec = Recommender::open({.models = {f.path("als")}});
    EXPECT_THROW(rec.related_batch({}, {.n = 3}, {.first = rec.model().n_items() + 1}), Error);
    EXPECT_THROW(rec.recommend_batch({}, {.n = 3}, {.first = 10, .count = rec.model().n_users()}), Error);
    const std::int32_t some[] = {1, 2};
    EXPECT_THROW(rec.related_batch(some, {.n = 3}, {.first = 1}), OptionError);
}

// Many threads query one Recommender at once (under the sanitizer build, this is also a race check
// of the factors prepared on first use); every answer equals the one-thread answer.
TEST(Recommender, ConcurrentQueriesAgree) {
    const auto& f = fixture();
    for (const char* kind : {"als", "lsa", "knn"}) {
        auto expected = Recommender::open({.models = {f.path(kind)}});
        auto rec = Recommender::open({.models = {f.path(kind)}});
        std::atomic<int> mismatches{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (std::int32_t i = t; i < 120; i += 4) {
                    if (ids(rec.related(i, {.n = 5})) != ids(expected.related(i, {.n = 5}))) ++mismatches;
                    if (ids(rec.recommend(i, {.n = 5, .explain = 1})) != ids(expected.recommend(i, {.n = 5}))) ++mismatches;
                    if (rec.model().has_factors() && ids(rec.similar_users(i, {.n = 3})) != ids(expected.similar_users(i, {.n = 3})))
                        ++mismatches;
                }
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(mismatches.load(), 0) << kind;
    }
}

TEST(Recommender, LookupsExplainAndJson) {
    const auto& f = fixture();
    auto rec = Recommender::open({.models = {f.path("als")}});
    rec.warm();
    const std::int32_t i = 4;
    EXPECT_EQ(rec.item(rec.item_key(i)), i);
    EXPECT_EQ(rec.user(rec.user_key(2)), 2);
    EXPECT_THROW(rec.user("no such user"), Error);
    auto recs = rec.recommend(2, {.n = 3, .explain = 2});
    ASSERT_FALSE(recs.empty());
    float total = 0;
    auto why = rec.explain(2, recs[0].id, 2, &total);
    ASSERT_EQ(why.size(), recs[0].because.size());
    EXPECT_EQ(why[0].item, recs[0].because[0].item);
    // The split adds up to the exact solve's score; 4 CG iterations leave x_u a little off it.
    EXPECT_NEAR(total, recs[0].score, 0.05 * std::max(1.0f, std::fabs(recs[0].score)));
    auto j = rec.to_json(rec.user_query(2), recs);
    EXPECT_EQ(j["query"]["id"], std::string(rec.user_key(2)));
    EXPECT_EQ(j["results"].size(), recs.size());
    EXPECT_EQ(j["results"][0]["id"], std::string(rec.item_key(recs[0].id)));
    EXPECT_EQ(j["results"][0]["because"].size(), recs[0].because.size());
    auto v = rec.view(recs);
    EXPECT_EQ(v[0].key, rec.item_key(recs[0].id));
    EXPECT_EQ(v[0].because, &recs[0].because);
    const std::int32_t played[] = {1, 2, 3};
    EXPECT_FALSE(rec.recommend_items(played, {}, {.n = 5}).empty());
}

}  // namespace
}  // namespace encore
