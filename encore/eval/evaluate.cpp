#include "encore/eval/evaluate.hpp"

#include <chrono>

#include <fmt/format.h>

#include "encore/eval/split.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/memory.hpp"
#include "encore/util/progress.hpp"

namespace encore {

namespace {

std::vector<std::vector<ScoredItem>> to_lists(const std::vector<std::vector<Recommendation>>& recs) {
    std::vector<std::vector<ScoredItem>> lists(recs.size());
    for (std::size_t u = 0; u < recs.size(); ++u)
        for (const auto& r : recs[u]) lists[u].push_back({r.id, r.score});
    return lists;
}

nlohmann::json weights_json(const EnsembleWeights& w) { return {{"weights", w.weights}, {"bias", w.bias}}; }

nlohmann::json member_names(const Ensemble& e) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& m : e.members) names.push_back(m.kind);
    return names;
}

void check_fit_options(const EnsembleFitOptions& o) {
    if (o.candidates < 1) throw OptionError(fmt::format("candidates must be at least 1, got {}", o.candidates));
    if (o.max_users < 1) throw OptionError(fmt::format("max-users must be at least 1, got {}", o.max_users));
    if (o.queries_per_user < 1)
        throw OptionError(fmt::format("queries-per-user must be at least 1, got {}", o.queries_per_user));
}

}  // namespace

std::vector<std::string> split_model_names(std::string_view list) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : list) {
        if (c == ',') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else if (c != ' ') {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

EvalModels parse_eval_models(const std::vector<std::string>& names) {
    if (names.empty()) throw OptionError("models: give at least one model");
    EvalModels out;
    for (const auto& n : names) {
        if (n == "ensemble")
            out.ensemble = true;
        else
            out.kinds.push_back(parse_model_kind(n));
    }
    if (out.ensemble && out.kinds.empty()) throw OptionError("models: ensemble needs at least one other model");
    return out;
}

void check_eval_request(const EvalRequest& r) {
    if (r.models.empty()) throw OptionError("models: give at least one model");
    if (r.k < 1) throw OptionError(fmt::format("k must be at least 1, got {}", r.k));
    if (!(r.test_fraction > 0 && r.test_fraction < 1)) throw OptionError("test-fraction must be in (0, 1)");
    if (r.ensemble) check_fit_options(r.ensemble_fit);
}

nlohmann::json EvalReport::row_json(const EvalRow& r) const {
    nlohmann::json j = {{fmt::format("precision@{}", k), r.metrics.precision},
                        {fmt::format("map@{}", k), r.metrics.map},
                        {fmt::format("ndcg@{}", k), r.metrics.ndcg},
                        {"auc", r.metrics.auc},
                        {"train_seconds", r.train_seconds},
                        {"users_evaluated", r.metrics.users}};
    j["train_peak_mb"] = r.train_peak_mb >= 0 ? nlohmann::json(r.train_peak_mb) : nlohmann::json(nullptr);
    if (related_hits) j[fmt::format("related_hit@{}", k)] = r.related.hit_rate;
    if (r.has_weights)
        j["weights"] = {{"members", member_names(r.weights)},
                        {"related", weights_json(r.weights.related)},
                        {"recommend", weights_json(r.weights.recommend)}};
    return j;
}

nlohmann::json EvalReport::to_json(bool one_model) const {
    if (one_model) {
        if (rows.empty()) return nlohmann::json::object();
        auto out = row_json(rows[0]);
        out.update({{"model", rows[0].name}, {"test_fraction", test_fraction}, {"seed", seed}});
        return out;
    }
    nlohmann::json out = {{"models", nlohmann::json::object()}, {"k", k}, {"test_fraction", test_fraction}, {"seed", seed}};
    for (const auto& r : rows) out["models"][r.name] = row_json(r);
    return out;
}

EvalReport evaluate(const Dataset& data, const EvalRequest& request) {
    check_eval_request(request);
    const auto& rq = request;
    EvalReport report;
    report.k = rq.k;
    report.test_fraction = rq.test_fraction;
    report.seed = rq.seed;
    report.related_hits = rq.related_hits;

    auto split = random_split(data.by_user, rq.test_fraction, rq.seed);
    report.train_interactions = split.train.nnz();
    report.test_interactions = split.test.nnz();
    Dataset train = data;
    train.by_user = split.train;
    train.by_item = split.train.transpose(rq.threads);

    QueryOptions q;
    q.n = rq.k;
    q.threads = rq.threads;
    auto score = [&](EvalRow& row, const auto& recommend_all_users, const auto& related_all_items) {
        row.metrics = ranking_metrics_at_k(to_lists(recommend_all_users()), split.test, rq.k, rq.threads);
        if (rq.related_hits)
            row.related = related_hit_rate_at_k(to_lists(related_all_items()), split.train, split.test, rq.k, rq.threads);
    };

    std::vector<Model> kept;  // the single models, for the ensemble
    for (const auto& options : rq.models) {
        EvalRow row;
        row.name = std::string(model_kind_name(options.kind));
        PeakMemoryMeter meter;
        {
            TrainReport trained;
            auto model = train_model(train, options, "eval split", &trained);
            row.train_seconds = trained.seconds;
            const double peak = meter.peak_bytes_above_start();
            if (peak >= 0) row.train_peak_mb = peak / 1e6;
            score(
                row,
                [&] {
                    Progress progress("evaluate " + row.name, static_cast<double>(model.n_users()), rq.reporter, "users");
                    QueryOptions qp = q;
                    qp.progress = &progress;
                    auto recs = recommend_all(model, ItemFilter{}, qp);
                    progress.finish();
                    return recs;
                },
                [&] { return related_all(model, ItemFilter{}, q); });
            if (rq.ensemble) kept.push_back(std::move(model));
        }
        report.rows.push_back(row);
    }

    if (rq.ensemble) {
        // Weights fitted on a split of the training part only (the test part stays unseen), then applied
        // to the models trained on the whole training part.
        EvalRow row;
        row.name = "ensemble";
        auto fit = rq.ensemble_fit;
        fit.seed = rq.seed;
        fit.threads = rq.threads;
        fit.reporter = rq.reporter;
        const auto start = std::chrono::steady_clock::now();
        row.weights = fit_ensemble_on_split(train, rq.models, fit);
        row.has_weights = true;
        row.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (const auto& r : report.rows) row.train_seconds += r.train_seconds;
        std::vector<const Model*> ptrs;
        for (const auto& m : kept) ptrs.push_back(&m);
        EnsembleScorer scorer(ptrs);
        score(
            row, [&] { return ensemble_recommend_all(scorer, row.weights, ItemFilter{}, q); },
            [&] { return ensemble_related_all(scorer, row.weights, ItemFilter{}, q); });
        report.rows.push_back(row);
    }
    return report;
}

void check_ensemble_request(const EnsembleRequest& r) {
    if (!(r.fit.holdout_fraction > 0 && r.fit.holdout_fraction < 1))
        throw OptionError("holdout-fraction must be in (0, 1)");
    if (r.models.empty()) throw OptionError("models: give at least one model");
    check_fit_options(r.fit);
}

nlohmann::json EnsembleFitReport::to_json() const {
    return {{"members", member_names(ensemble)},
            {"candidates", ensemble.candidates},
            {"related", weights_json(ensemble.related)},
            {"recommend", weights_json(ensemble.recommend)},
            {"info", ensemble.info}};
}

EnsembleFitReport fit_ensemble_on_holdout(const Dataset& data, const EnsembleRequest& request) {
    check_ensemble_request(request);
    EnsembleFitReport report;
    report.ensemble = fit_ensemble_on_split(data, request.models, request.fit);
    report.ensemble.info["data"] = {{"source", request.source}, {"users", data.n_users()}, {"items", data.n_items()}};
    if (request.train_on_all)
        for (const auto& options : request.models) report.models.push_back(train_model(data, options, request.source));
    return report;
}

}  // namespace encore
