#include "encore/models/family.hpp"

#include <chrono>

#include <fmt/format.h>

#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

ModelKind parse_model_kind(std::string_view name) {
    if (name == "als") return ModelKind::als;
    if (name == "lsa") return ModelKind::lsa;
    if (name == "bpr") return ModelKind::bpr;
    if (name == "lmf") return ModelKind::lmf;
    if (name == "knn") return ModelKind::knn;
    if (name == "popular") return ModelKind::popular;
    throw OptionError(fmt::format("unknown model '{}' (known: als, lsa, bpr, lmf, knn, popular)", name));
}

std::string_view model_kind_name(ModelKind kind) {
    switch (kind) {
        case ModelKind::als: return "als";
        case ModelKind::lsa: return "lsa";
        case ModelKind::bpr: return "bpr";
        case ModelKind::lmf: return "lmf";
        case ModelKind::knn: return "knn";
        case ModelKind::popular: return "popular";
    }
    return "?";
}

ModelOptions default_model_options(ModelKind kind) {
    ModelOptions o;
    o.kind = kind;
    switch (kind) {
        case ModelKind::als:
        case ModelKind::lsa:
            break;  // bm25, K1 100, B 0.8
        case ModelKind::bpr:
        case ModelKind::popular:
            o.weighting.kind = WeightingKind::none;  // only which cells are played matters
            break;
        case ModelKind::lmf:
            // Johnson's confidence: raw play counts (thousands) would swamp the negatives.
            o.weighting.kind = WeightingKind::log;
            o.weighting.alpha = 1.0f;
            break;
        case ModelKind::knn:
            // Cosine of log-damped plays: on raw plays one heavy listener decides an item's neighbours
            // (implicit's cosine KNN on Last.fm 2K is near random for that reason).
            o.knn.similarity = KnnSimilarity::cosine;
            o.weighting.kind = WeightingKind::log;
            break;
    }
    return o;
}

nlohmann::json model_options_json(const ModelOptions& o) {
    const auto& w = o.weighting;
    nlohmann::json j = {{"model", model_kind_name(o.kind)},
                        {"threads", resolve_threads(o.threads)},
                        {"weighting", weighting_name(w.kind)},
                        {"K1", w.K1},
                        {"B", w.B},
                        {"alpha", w.alpha.value_or(default_alpha(w.kind))},
                        {"eps", w.eps}};
    switch (o.kind) {
        case ModelKind::als:
            j.update({{"factors", o.als.factors}, {"regularization", o.als.regularization},
                      {"iterations", o.als.iterations}, {"solver", als_solver_name(o.als.solver)},
                      {"cg_steps", o.als.cg_steps}, {"cg_gather", o.als.half_gather ? "half" : "float"},
                      {"cg_basis", o.als.eigenbasis ? "eigen" : "original"},
                      {"cg_precondition", o.als.eigenbasis && o.als.cg_precondition},
                      {"seed", o.als.seed}});
            break;
        case ModelKind::lsa:
            j.update({{"factors", o.lsa.factors}, {"oversample", o.lsa.oversample},
                      {"power_iterations", o.lsa.power_iterations}, {"seed", o.lsa.seed}});
            break;
        case ModelKind::bpr:
            j.update({{"factors", o.bpr.factors}, {"learning_rate", o.bpr.learning_rate},
                      {"regularization", o.bpr.regularization}, {"iterations", o.bpr.iterations},
                      {"verify_negatives", o.bpr.verify_negatives}, {"redraw_negatives", o.bpr.redraw_negatives},
                      {"negatives", o.bpr.popular_negatives ? "popular" : "uniform"},
                      {"seed", o.bpr.seed}});
            break;
        case ModelKind::lmf:
            j.update({{"factors", o.lmf.factors}, {"learning_rate", o.lmf.learning_rate},
                      {"regularization", o.lmf.regularization}, {"iterations", o.lmf.iterations},
                      {"negative_samples", o.lmf.negative_samples}, {"seed", o.lmf.seed}});
            break;
        case ModelKind::knn:
            j.update({{"similarity", knn_similarity_name(o.knn.similarity)}, {"neighbours", o.knn.K},
                      {"knn_K1", o.knn.K1}, {"knn_B", o.knn.B}});
            break;
        case ModelKind::popular: break;
    }
    return j;
}

Model train_model(const Dataset& data, const ModelOptions& o, const std::string& source, TrainReport* report) {
    if (data.n_users() == 0 || data.n_items() == 0) throw Error("the dataset has no users or no items");
    const int threads = o.threads;
    auto t0 = std::chrono::steady_clock::now();
    Model m;
    m.kind = std::string(model_kind_name(o.kind));
    m.weighting = fit_weighting(data.by_user, o.weighting);
    m.user_items = apply_weighting(data.by_user, m.weighting, threads);
    nlohmann::json training = nlohmann::json::object();
    std::string summary;
    switch (o.kind) {
        case ModelKind::als: {
            AlsOptions a = o.als;
            a.threads = threads;
            a.quiet = o.quiet;
            AlsReport r;
            train_als(m.user_items, m.user_items.transpose(threads), a, m.user_factors, m.item_factors, &r);
            m.regularization = a.regularization;
            training["loss"] = r.loss;
            training["als_seconds"] = r.seconds;
            training["seconds_per_iteration"] = a.iterations > 0 ? r.seconds / a.iterations : 0.0;
            summary = fmt::format("ALS ({} factors, {} iterations, {})", a.factors, a.iterations, als_solver_name(a.solver));
            break;
        }
        case ModelKind::lsa: {
            LsaOptions a = o.lsa;
            a.threads = threads;
            a.quiet = o.quiet;
            LsaReport r;
            train_lsa(m.user_items, m.user_items.transpose(threads), a, m.user_factors, m.item_factors, &r);
            training["singular_values"] = r.singular_values;
            summary = fmt::format("LSA ({} factors, {} power iterations)", a.factors, a.power_iterations);
            break;
        }
        case ModelKind::bpr: {
            BprOptions a = o.bpr;
            a.threads = threads;
            a.quiet = o.quiet;
            BprReport r;
            train_bpr(m.user_items, a, m.user_factors, m.item_factors, &r);
            // Fold-in of new users solves least squares against the item factors with this lambda.
            m.regularization = a.regularization;
            training["accuracy"] = r.accuracy;
            training["skipped"] = r.skipped;
            summary = fmt::format("BPR ({} factors, {} epochs, final training accuracy {:.4f})", a.factors,
                                  a.iterations, r.accuracy.empty() ? 0.0 : r.accuracy.back());
            break;
        }
        case ModelKind::lmf: {
            LmfOptions a = o.lmf;
            a.threads = threads;
            a.quiet = o.quiet;
            LmfReport r;
            train_lmf(m.user_items, m.user_items.transpose(threads), a, m.user_factors, m.item_factors, &r);
            m.regularization = a.regularization;
            training["log_likelihood"] = r.log_likelihood;
            summary = fmt::format("LMF ({} factors, {} iterations)", a.factors, a.iterations);
            break;
        }
        case ModelKind::knn: {
            KnnOptions a = o.knn;
            a.threads = threads;
            a.quiet = o.quiet;
            // cosine compares the model's confidences; tfidf and bm25 weigh the raw plays themselves.
            m.item_neighbours = train_knn(a.similarity == KnnSimilarity::cosine ? m.user_items : data.by_user, a);
            m.user_factors = Matrix(data.n_users(), 0);
            m.item_factors = Matrix(data.n_items(), 0);
            summary = fmt::format("item-item KNN ({}, K={})", knn_similarity_name(a.similarity), a.K);
            break;
        }
        case ModelKind::popular: {
            // One factor: users 1, items their listener count scaled to the largest (ties by id in top-k).
            const Csr& c = m.user_items;
            std::vector<double> count(static_cast<std::size_t>(data.n_items()), 0.0);
            for (std::int64_t k = 0; k < c.nnz(); ++k)
                if (c.values[k] > 0) count[c.indices[k]] += 1;
            double top = 1;
            for (double x : count) top = std::max(top, x);
            m.user_factors = Matrix(data.n_users(), 1);
            m.item_factors = Matrix(data.n_items(), 1);
            for (std::int64_t u = 0; u < data.n_users(); ++u) m.user_factors.row(u)[0] = 1.0f;
            for (std::int64_t i = 0; i < data.n_items(); ++i)
                m.item_factors.row(i)[0] = static_cast<float>(count[static_cast<std::size_t>(i)] / top);
            summary = "popularity baseline";
            break;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.users = data.users;
    m.items = data.items;
    m.item_names = data.item_names;
    m.info["options"] = model_options_json(o);
    m.info["data"] = data.meta;
    m.info["data"]["source"] = source;
    training["seconds"] = secs;
    m.info["training"] = training;
    info(o.quiet, fmt::format("trained {} on {} users x {} items in {:.2f} s", summary, data.n_users(), data.n_items(), secs));
    if (report) {
        report->seconds = secs;
        report->training = training;
    }
    return m;
}

}  // namespace encore
