// The knn kind: item-item nearest neighbours (encore/models/knn.hpp), scored from the stored neighbour
// lists (encore/retrieval/knn_queries.hpp): related = the item's list; a user's score for i = sum over
// played j of c_uj s_ji, exact for new users too, and so are its explanations.
#include <fmt/format.h>

#include "encore/kinds/family.hpp"
#include "encore/retrieval/knn_queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

std::vector<ScoredItem> scored(const std::vector<Recommendation>& recs) {
    std::vector<ScoredItem> out;
    out.reserve(recs.size());
    for (const auto& r : recs) out.push_back({r.id, r.score});
    return out;
}

class KnnExplainer final : public UserExplainer {
public:
    KnnExplainer(const Model& model, const UserProfile& u) : model_(model), user_(u) {}
    std::vector<Contribution> explain(std::int32_t item, int n, float* total_score) const override {
        return knn_explain(model_, user_.items, user_.conf, item, n, total_score);
    }

private:
    const Model& model_;
    UserProfile user_;
};

class KnnScorer final : public Scorer {
public:
    explicit KnnScorer(const Model& model) : model_(model) {
        if (model.item_neighbours.rows != model.n_items())
            fail("knn model has {} neighbour rows for {} items", model.item_neighbours.rows, model.n_items());
    }
    const Model& model() const override { return model_; }

    std::vector<ScoredItem> related(std::int32_t item, std::span<const std::uint8_t> allowed, int n) const override {
        return scored(knn_related(model_, item, allowed, n));
    }
    double similarity(std::int32_t item, std::int32_t other) const override {
        return model_.item_neighbours.at(item, other);
    }

    std::vector<ScoredItem> recommend(const UserProfile& u, std::span<const std::uint8_t> allowed, bool filter_played,
                                      int n) const override {
        return scored(knn_recommend(model_, u.items, u.conf, allowed, filter_played, n, 0));
    }
    std::vector<std::vector<ScoredItem>> recommend_all(std::span<const std::uint8_t> allowed, bool filter_played,
                                                       const TopKOptions& options) const override {
        const auto rows = query_rows(options, model_.n_users());
        std::vector<std::vector<ScoredItem>> out(static_cast<std::size_t>(rows.size()));
        const Csr& c = model_.user_items;
        const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
        for (std::int64_t q = 0; q < rows.size(); ++q) {
            const std::int64_t u = rows.first + q;
            UserProfile p;
            if (c.rows != 0) p = {c.row_indices(u), c.row_values(u), u};
            if (options.cancel && options.cancel->load(std::memory_order_relaxed)) continue;
            out[static_cast<std::size_t>(q)] = recommend(p, allowed, filter_played, options.k);
            if (options.progress) options.progress->add(1);
        }
        return out;
    }
    double score(const UserProfile& u, std::int32_t item) const override {
        float total = 0;
        knn_explain(model_, u.items, u.conf, item, 0, &total);
        return total;
    }
    std::unique_ptr<UserExplainer> explainer(const UserProfile& u) const override {
        return std::make_unique<KnnExplainer>(model_, u);
    }

private:
    const Model& model_;
};

class KnnType final : public ModelType {
public:
    std::string_view name() const override { return "knn"; }
    std::string_view description() const override { return "item-item nearest neighbours (cosine, tfidf or bm25)"; }
    KindOptionsRef options(ModelOptions& o) const override { return {&o.knn}; }

    void apply_defaults(ModelOptions& o) const override {
        // Cosine of log-damped plays: on raw plays one heavy listener decides an item's neighbours
        // (implicit's cosine KNN on Last.fm 2K is near random for that reason).
        o.knn.similarity = KnnSimilarity::cosine;
        o.weighting.kind = WeightingKind::log;
    }

    KindTraining train(const Dataset& data, const ModelOptions& o, Model& m) const override {
        KnnOptions a = o.knn;
        a.threads = o.threads;
        a.reporter = o.reporter;
        // cosine compares the model's confidences; tfidf and bm25 weigh the raw plays themselves.
        m.item_neighbours = train_knn(a.similarity == KnnSimilarity::cosine ? m.user_items : data.by_user, a);
        m.user_factors = Matrix(data.n_users(), 0);
        m.item_factors = Matrix(data.n_items(), 0);
        KindTraining t;
        t.summary = fmt::format("item-item KNN ({}, K={})", knn_similarity_name(a.similarity), a.K);
        return t;
    }

    void options_json(const ModelOptions& o, nlohmann::json& j) const override {
        j.update({{"similarity", knn_similarity_name(o.knn.similarity)}, {"neighbours", o.knn.K},
                  {"knn_K1", o.knn.K1}, {"knn_B", o.knn.B}});
    }

    std::unique_ptr<Scorer> open(const Model& model, int) const override { return std::make_unique<KnnScorer>(model); }
};

}  // namespace

const ModelType& knn_model_type() {
    static const KnnType type;
    return type;
}

}  // namespace encore
