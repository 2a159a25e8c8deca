#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "encore/eval/evaluate.hpp"
#include "encore/eval/split.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

// Two taste blocks (test_util.hpp) as a Dataset with ids u0.. and i0...
Dataset two_blocks(std::uint32_t seed) {
    Dataset d;
    d.by_user = testing::two_block_plays(seed, 5);
    d.by_item = d.by_user.transpose(1);
    std::vector<std::string> users, items;
    for (std::int64_t u = 0; u < d.by_user.rows; ++u) users.push_back(fmt::format("u{}", u));
    for (std::int64_t i = 0; i < d.by_user.cols; ++i) items.push_back(fmt::format("i{}", i));
    d.users = StringTable::build(users);
    d.items = StringTable::build(items);
    return d;
}

ModelOptions options(ModelKind kind) {
    auto o = default_model_options(kind);
    o.threads = 1;
    o.als.factors = o.bpr.factors = o.lmf.factors = o.lsa.factors = 8;
    return o;
}

EvalRequest request(std::vector<ModelKind> kinds, bool ensemble) {
    EvalRequest r;
    for (auto k : kinds) r.models.push_back(options(k));
    r.ensemble = ensemble;
    r.ensemble_fit.candidates = 10;
    r.k = 5;
    r.seed = 3;
    r.related_hits = true;
    r.threads = 1;
    return r;
}

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Evaluate, MetricsInRangeWithEnsembleWeightsForEveryMember) {
    const auto data = two_blocks(1);
    const auto report = evaluate(data, request({parse_model_kind("als"), parse_model_kind("knn"), parse_model_kind("popular")}, true));
    ASSERT_EQ(report.rows.size(), 4u);
    EXPECT_EQ(report.rows[0].name, "als");
    EXPECT_EQ(report.rows[3].name, "ensemble");
    EXPECT_EQ(report.train_interactions + report.test_interactions, data.nnz());
    EXPECT_GT(report.test_interactions, 0);
    for (const auto& row : report.rows) {
        SCOPED_TRACE(row.name);
        for (double v : {row.metrics.precision, row.metrics.map, row.metrics.ndcg, row.metrics.auc, row.related.hit_rate}) {
            EXPECT_GE(v, 0.0);
            EXPECT_LE(v, 1.0);
        }
        EXPECT_GT(row.metrics.users, 0);
        EXPECT_EQ(row.metrics.k, 5);
        EXPECT_GE(row.train_seconds, 0.0);
        EXPECT_EQ(row.has_weights, row.name == "ensemble");
    }
    const auto& e = report.rows[3].weights;
    ASSERT_EQ(e.members.size(), 3u);
    EXPECT_EQ(e.members[1].kind, "knn");
    EXPECT_EQ(e.related.weights.size(), 3u);
    EXPECT_EQ(e.recommend.weights.size(), 3u);
    const auto j = report.to_json();
    EXPECT_EQ(j["models"]["ensemble"]["weights"]["members"], nlohmann::json({"als", "knn", "popular"}));
    EXPECT_TRUE(j["models"]["ensemble"]["train_peak_mb"].is_null());
    EXPECT_EQ(j["models"]["knn"]["precision@5"].get<double>(), report.rows[1].metrics.precision);
    EXPECT_TRUE(j["models"]["knn"].contains("related_hit@5"));
    EXPECT_EQ(j["k"], 5);
    EXPECT_EQ(j["seed"], 3);
    // A block model beats the popularity baseline on block-structured plays.
    EXPECT_GT(report.rows[1].metrics.precision, report.rows[2].metrics.precision);
}

TEST(Evaluate, PopularEqualsTheStepsDoneByHand) {
    const auto data = two_blocks(2);
    auto rq = request({parse_model_kind("popular")}, false);
    rq.related_hits = false;
    const auto report = evaluate(data, rq);
    ASSERT_EQ(report.rows.size(), 1u);

    const auto split = random_split(data.by_user, rq.test_fraction, rq.seed, 1);
    Dataset train = data;
    train.by_user = split.train;
    train.by_item = split.train.transpose(1);
    const auto model = train_model(train, options(parse_model_kind("popular")), "test");
    QueryOptions q;
    q.n = rq.k;
    q.threads = 1;
    std::vector<std::vector<ScoredItem>> lists;
    for (const auto& recs : recommend_all(model, ItemFilter{}, q)) {
        lists.emplace_back();
        for (const auto& r : recs) lists.back().push_back({r.id, r.score});
    }
    const auto m = ranking_metrics_at_k(lists, split.test, rq.k, 1);
    EXPECT_EQ(report.rows[0].metrics.precision, m.precision);
    EXPECT_EQ(report.rows[0].metrics.map, m.map);
    EXPECT_EQ(report.rows[0].metrics.ndcg, m.ndcg);
    EXPECT_EQ(report.rows[0].metrics.auc, m.auc);
    EXPECT_EQ(report.rows[0].metrics.users, m.users);
    EXPECT_EQ(report.train_interactions, split.train.nnz());

    const auto flat = report.to_json(true);
    EXPECT_EQ(flat["model"], "popular");
    EXPECT_EQ(flat["map@5"].get<double>(), m.map);
    EXPECT_FALSE(flat.contains("related_hit@5"));
    EXPECT_FALSE(flat.contains("models"));
}

TEST(Evaluate, SameSeedSameMetrics) {
    const auto data = two_blocks(3);
    const auto rq = request({parse_model_kind("als"), parse_model_kind("knn")}, true);
    const auto a = evaluate(data, rq), b = evaluate(data, rq);
    auto metrics = [](const EvalReport& r) {
        auto j = r.to_json();
        for (auto& [name, row] : j["models"].items()) {
            row.erase("train_seconds");
            row.erase("train_peak_mb");
        }
        return j;
    };
    EXPECT_EQ(metrics(a), metrics(b));
    auto other = rq;
    other.seed = 4;
    EXPECT_NE(evaluate(data, other).train_interactions, 0);
}

TEST(Evaluate, BadRequestsSayWhatIsWrong) {
    const auto data = two_blocks(4);
    EXPECT_EQ(error_of([] { parse_eval_models({"als", "foo"}); }),
              "unknown model 'foo' (known: als, lsa, bpr, lmf, knn, popular)");
    EXPECT_EQ(error_of([] { parse_eval_models({}); }), "models: give at least one model");
    EXPECT_EQ(error_of([] { parse_eval_models({"ensemble"}); }), "models: ensemble needs at least one other model");
    auto rq = request({parse_model_kind("popular")}, false);
    rq.k = 0;
    EXPECT_EQ(error_of([&] { evaluate(data, rq); }), "k must be at least 1, got 0");
    rq.k = 5;
    for (double f : {0.0, 1.0, -0.5, 1.5}) {
        rq.test_fraction = f;
        EXPECT_EQ(error_of([&] { evaluate(data, rq); }), "test-fraction must be in (0, 1)");
    }
    EXPECT_EQ(error_of([&] { evaluate(data, EvalRequest{}); }), "models: give at least one model");

    EnsembleRequest er;
    er.fit.holdout_fraction = 1;
    er.models = {options(parse_model_kind("popular"))};
    EXPECT_EQ(error_of([&] { fit_ensemble_on_holdout(data, er); }), "holdout-fraction must be in (0, 1)");
    er.fit.holdout_fraction = 0.2;
    er.models.clear();
    EXPECT_EQ(error_of([&] { fit_ensemble_on_holdout(data, er); }), "models: give at least one model");
}

TEST(Evaluate, SplitModelNamesDropsBlanks) {
    EXPECT_EQ(split_model_names(" als, bpr,,knn ,"), (std::vector<std::string>{"als", "bpr", "knn"}));
    EXPECT_TRUE(split_model_names(",").empty());
}

TEST(FitEnsembleOnHoldout, WeightsPerMemberAndMembersTrainedOnAll) {
    const auto data = two_blocks(5);
    EnsembleRequest er;
    er.models = {options(parse_model_kind("als")), options(parse_model_kind("knn"))};
    er.fit.candidates = 10;
    er.fit.seed = 2;
    er.fit.threads = 1;
    er.source = "two blocks";
    auto without = fit_ensemble_on_holdout(data, er);
    EXPECT_TRUE(without.models.empty());
    er.train_on_all = true;
    const auto report = fit_ensemble_on_holdout(data, er);
    ASSERT_EQ(report.models.size(), 2u);
    EXPECT_EQ(report.models[0].n_items(), data.n_items());
    EXPECT_EQ(report.models[1].user_items.nnz(), data.nnz());  // all the data, not the holdout split
    const auto j = report.to_json();
    EXPECT_EQ(j["members"], nlohmann::json({"als", "knn"}));
    EXPECT_EQ(j["related"]["weights"].size(), 2u);
    EXPECT_EQ(j["recommend"]["weights"].size(), 2u);
    EXPECT_EQ(j["info"]["data"]["source"], "two blocks");
    EXPECT_EQ(j["info"]["data"]["users"], data.n_users());
    // Same seed, same weights (training on all the data does not touch the fit).
    EXPECT_EQ(without.to_json(), j);
}

}  // namespace
}  // namespace encore
