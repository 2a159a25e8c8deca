#include "encore/serve/recommender.hpp"

#include <optional>

#include <fmt/format.h>

#include "encore/kinds/registry.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/serve/render.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

std::string_view scoring_name(Scoring s) {
    switch (s) {
        case Scoring::exact: return "exact";
        case Scoring::index: return "index";
        case Scoring::ensemble: return "ensemble";
    }
    return "?";
}

struct Recommender::State {
    RecommenderOptions options;
    std::vector<std::unique_ptr<Model>> models;  // by pointer: scorers keep references
    std::vector<std::unique_ptr<Scorer>> scorers;
    std::unique_ptr<AnnIndex> cosine, dot;
    std::optional<Ensemble> ensemble;
    std::unique_ptr<EnsembleScorer> ensemble_scorer;

    const Model& first() const { return *models.front(); }
    const Scorer& scorer() const { return *scorers.front(); }
};

Recommender::Recommender(std::unique_ptr<State> state) : s_(std::move(state)) {}
Recommender::Recommender(Recommender&&) noexcept = default;
Recommender& Recommender::operator=(Recommender&&) noexcept = default;
Recommender::~Recommender() = default;

Recommender Recommender::open(const RecommenderOptions& o) {
    if (o.models.empty()) throw OptionError("a recommender needs at least one model file");
    if (o.candidates < 1) throw OptionError(fmt::format("candidates must be at least 1, got {}", o.candidates));
    auto s = std::make_unique<State>();
    s->options = o;
    for (const auto& path : o.models) {
        s->models.push_back(std::make_unique<Model>(load_model(path, o.verify)));
        s->scorers.push_back(open_scorer(*s->models.back(), o.threads));
    }
    std::vector<const Model*> ptrs;
    for (const auto& m : s->models) ptrs.push_back(m.get());
    const bool ensemble = s->models.size() > 1 || !o.ensemble.empty();
    if (ensemble) {
        if (!o.indexes.empty())
            throw OptionError("an index is not available with several models or an ensemble (the ensemble scans exactly)");
        s->ensemble = o.ensemble.empty() ? equal_weight_ensemble(ptrs, o.candidates) : load_ensemble(o.ensemble);
        check_ensemble_models(*s->ensemble, ptrs);
        std::vector<const Scorer*> scorers;
        for (const auto& sc : s->scorers) scorers.push_back(sc.get());
        s->ensemble_scorer = std::make_unique<EnsembleScorer>(std::move(scorers));
    }
    for (const auto& path : o.indexes) {
        auto index = open_index(path, o.verify);
        auto& slot = index->metric() == AnnMetric::cosine ? s->cosine : s->dot;
        if (slot) throw OptionError(fmt::format("{}: a second {} index (give at most one cosine and one dot index)", path,
                                                metric_name(index->metric())));
        try {
            check_index(s->first(), *index, index->metric(), index->metric() == AnnMetric::cosine ? "related" : "recommend");
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {}", path, e.what()));
        }
        slot = std::move(index);
    }
    return Recommender(std::move(s));
}

void Recommender::warm() const {
    // One query of each kind prepares what the scorers compute on first use.
    for (const auto& sc : s_->scorers) {
        const Model& m = sc->model();
        if (m.n_items() > 0) (void)sc->related(0, {}, 1);
        if (m.n_users() > 0 && m.has_factors()) {
            (void)sc->similar_users(0, 1);
            (void)sc->recommend({{}, {}, 0}, {}, false, 1);  // the item factors' half-precision copy
        }
        if (m.n_users() > 0) (void)sc->explainer({{}, {}, -1});
    }
}

const Model& Recommender::model() const { return s_->first(); }
int Recommender::members() const { return static_cast<int>(s_->models.size()); }
const Model& Recommender::member(int m) const { return *s_->models.at(static_cast<std::size_t>(m)); }
const Ensemble* Recommender::ensemble() const { return s_->ensemble ? &*s_->ensemble : nullptr; }
const AnnIndex* Recommender::index(bool related) const { return related ? s_->cosine.get() : s_->dot.get(); }

Scoring Recommender::related_scoring() const {
    return s_->ensemble ? Scoring::ensemble : s_->cosine ? Scoring::index : Scoring::exact;
}

Scoring Recommender::recommend_scoring() const {
    return s_->ensemble ? Scoring::ensemble : s_->dot ? Scoring::index : Scoring::exact;
}

std::int32_t Recommender::item(std::string_view key_or_name) const { return resolve_item(model(), key_or_name); }
std::int32_t Recommender::user(std::string_view id) const { return resolve_user(model(), id); }
std::string_view Recommender::item_key(std::int32_t i) const { return model().items[static_cast<std::size_t>(i)]; }
std::string_view Recommender::item_name(std::int32_t i) const { return model().item_label(i); }
std::string_view Recommender::user_key(std::int32_t u) const { return model().users[static_cast<std::size_t>(u)]; }

ItemFilter Recommender::filter(std::span<const std::int32_t> allow, std::span<const std::int32_t> deny) const {
    return ItemFilter::from_items(model().n_items(), allow, deny, !allow.empty());
}

namespace {

const ItemFilter kEverything;

QueryOptions single(const Query& q) {
    QueryOptions o;
    o.n = q.n;
    o.filter_played = q.filter_played;
    o.explain = q.explain;
    o.threads = 1;
    return o;
}

QueryOptions batch(const Query& q, const Batch& b) {
    QueryOptions o = single(q);
    o.threads = b.threads;
    o.progress = b.progress;
    o.cancel = b.cancel;
    o.low_precision = b.low_precision;
    o.first = b.first;
    o.count = b.count;
    return o;
}

void check_ensemble_query(const Query& q, const char* what) {
    if (q.explain > 0) throw OptionError(fmt::format("{}: explanations are not available for an ensemble", what));
    if (!q.filter_played) throw OptionError(fmt::format("{}: an ensemble always leaves out played items", what));
}

void check_list_batch(const Batch& b) {
    if (b.first != 0 || b.count != -1) throw OptionError("a batch takes a list or a range (first, count), not both");
}

// The listed queries one by one, in parallel; out[k] answers list[k].
template <typename One>
std::vector<std::vector<Recommendation>> each(std::span<const std::int32_t> list, const Batch& b, One&& one) {
    std::vector<std::vector<Recommendation>> out(list.size());
    const auto n = static_cast<std::int64_t>(list.size());
    const int threads = resolve_threads(b.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
    for (std::int64_t k = 0; k < n; ++k) {
        if (b.cancel && b.cancel->load(std::memory_order_relaxed)) continue;
        out[static_cast<std::size_t>(k)] = one(list[static_cast<std::size_t>(k)]);
        if (b.progress) b.progress->add(1);
    }
    if (b.cancel && b.cancel->load()) throw Cancelled();
    return out;
}

}  // namespace

std::vector<Recommendation> Recommender::related(std::int32_t item, const Query& q) const {
    const ItemFilter& f = q.filter ? *q.filter : kEverything;
    switch (related_scoring()) {
        case Scoring::ensemble:
            return ensemble_related(*s_->ensemble_scorer, *s_->ensemble, item, f, single(q));
        case Scoring::index:
            return related_items_index(s_->scorer(), *s_->cosine, item, f, single(q), q.search);
        case Scoring::exact: break;
    }
    return related_items(s_->scorer(), item, f, single(q));
}

std::vector<Recommendation> Recommender::recommend(std::int32_t user, const Query& q) const {
    const ItemFilter& f = q.filter ? *q.filter : kEverything;
    switch (recommend_scoring()) {
        case Scoring::ensemble:
            check_ensemble_query(q, "recommend");
            return ensemble_recommend(*s_->ensemble_scorer, *s_->ensemble, user, f, single(q));
        case Scoring::index:
            return recommend_user_index(s_->scorer(), *s_->dot, user, f, single(q), q.search);
        case Scoring::exact: break;
    }
    return recommend_user(s_->scorer(), user, f, single(q));
}

std::vector<Recommendation> Recommender::recommend_items(std::span<const std::int32_t> items,
                                                         std::span<const float> plays, const Query& q) const {
    if (s_->ensemble) throw OptionError("a new user (items) is not available for an ensemble; query one model");
    return recommend_new_user(s_->scorer(), items, plays, q.filter ? *q.filter : kEverything, single(q));
}

std::vector<Recommendation> Recommender::similar_users(std::int32_t user, const Query& q) const {
    return encore::similar_users(s_->scorer(), user, single(q));
}

std::vector<Contribution> Recommender::explain(std::int32_t user, std::int32_t item, int n, float* total_score) const {
    const Model& m = model();
    if (user < 0 || user >= m.n_users()) fail("user index {} out of range (model has {} users)", user, m.n_users());
    std::span<const std::int32_t> played;
    std::span<const float> conf;
    if (m.user_items.rows != 0) played = m.user_items.row_indices(user), conf = m.user_items.row_values(user);
    return encore::explain(s_->scorer(), played, conf, item, n, total_score);
}

std::vector<std::vector<Contribution>> Recommender::explain(std::int32_t user, std::span<const std::int32_t> items,
                                                            int n) const {
    const Model& m = model();
    if (user < 0 || user >= m.n_users()) fail("user index {} out of range (model has {} users)", user, m.n_users());
    for (auto i : items)
        if (i < 0 || i >= m.n_items()) fail("item index {} out of range (model has {} items)", i, m.n_items());
    const auto explainer = s_->scorer().explainer(known_user(m, user));
    std::vector<std::vector<Contribution>> out;
    out.reserve(items.size());
    for (auto i : items) out.push_back(explainer->explain(i, n, nullptr));
    return out;
}

double Recommender::similarity(std::int32_t item, std::int32_t other) const {
    const Model& m = model();
    if (item < 0 || item >= m.n_items() || other < 0 || other >= m.n_items())
        fail("item index out of range (model has {} items)", m.n_items());
    return s_->scorer().similarity(item, other);
}

std::vector<std::vector<Recommendation>> Recommender::related_batch(std::span<const std::int32_t> items, const Query& q,
                                                                    const Batch& b) const {
    if (!items.empty()) {
        check_list_batch(b);
        return each(items, b, [&](std::int32_t i) { return related(i, q); });
    }
    const ItemFilter& f = q.filter ? *q.filter : kEverything;
    switch (related_scoring()) {
        case Scoring::ensemble: return ensemble_related_all(*s_->ensemble_scorer, *s_->ensemble, f, batch(q, b));
        case Scoring::index: return related_all_index(s_->scorer(), *s_->cosine, f, batch(q, b), q.search);
        case Scoring::exact: break;
    }
    return related_all(s_->scorer(), f, batch(q, b));
}

std::vector<std::vector<Recommendation>> Recommender::recommend_batch(std::span<const std::int32_t> users,
                                                                      const Query& q, const Batch& b) const {
    if (!users.empty()) {
        check_list_batch(b);
        return each(users, b, [&](std::int32_t u) { return recommend(u, q); });
    }
    const ItemFilter& f = q.filter ? *q.filter : kEverything;
    switch (recommend_scoring()) {
        case Scoring::ensemble:
            check_ensemble_query(q, "recommend");
            return ensemble_recommend_all(*s_->ensemble_scorer, *s_->ensemble, f, batch(q, b));
        case Scoring::index: return recommend_all_index(s_->scorer(), *s_->dot, f, batch(q, b), q.search);
        case Scoring::exact: break;
    }
    return recommend_all(s_->scorer(), f, batch(q, b));
}

std::vector<ResultView> Recommender::view(const std::vector<Recommendation>& results) const {
    std::vector<ResultView> out;
    out.reserve(results.size());
    for (const auto& r : results) out.push_back({r.id, item_key(r.id), item_name(r.id), r.score, &r.because});
    return out;
}

nlohmann::json Recommender::item_query(std::int32_t item) const { return item_json(model(), item); }

nlohmann::json Recommender::user_query(std::int32_t user) const {
    const std::string id(user_key(user));
    return {{"id", id}, {"name", id}};
}

nlohmann::json Recommender::to_json(const nlohmann::json& query, const std::vector<Recommendation>& results) const {
    return results_json(model(), query, results);
}

}  // namespace encore
