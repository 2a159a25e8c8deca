// The queries a model answers. Every ranking goes through the model's Scorer (encore/kinds/): this
// file only checks arguments, builds filters, folds in new users and adds explanations.
#include "encore/query/queries.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "encore/kernels/distance.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {
void check_n(int n) {
    if (n < 0) fail("number of results must be at least 0, got {}", n);
}

void check_item(const Model& model, std::int64_t item) {
    if (item < 0 || item >= model.n_items()) fail("item index {} out of range (model has {} items)", item, model.n_items());
}

void check_user(const Model& model, std::int64_t user) {
    if (user < 0 || user >= model.n_users()) fail("user index {} out of range (model has {} users)", user, model.n_users());
}

std::span<const std::int32_t> played_items(const Model& model, std::int64_t user) {
    if (model.user_items.rows == 0) return {};
    if (model.user_items.rows != model.n_users())
        fail("model has {} users but its user-item matrix has {} rows", model.n_users(), model.user_items.rows);
    auto played = model.user_items.row_indices(user);
    // A model opened without verification has not had its item ids checked (that reads the whole
    // matrix); check the one row a query uses, since explain and fold-in index by these ids.
    for (auto j : played)
        if (j < 0 || j >= model.n_items())
            fail("user {}'s played items include index {}, out of range (the model file is damaged: load it with "
                 "verification)", user, j);
    return played;
}

std::vector<Recommendation> to_recommendations(const std::vector<ScoredItem>& scored) {
    std::vector<Recommendation> out;
    out.reserve(scored.size());
    for (const auto& s : scored) out.push_back({s.id, s.score, {}});
    return out;
}

std::span<const float> played_conf(const Model& model, std::int64_t user) {
    return model.user_items.rows == 0 ? std::span<const float>() : model.user_items.row_values(user);
}

std::vector<std::vector<Recommendation>> to_recommendations(std::vector<std::vector<ScoredItem>> scored) {
    std::vector<std::vector<Recommendation>> out(scored.size());
    for (std::size_t q = 0; q < scored.size(); ++q) out[q] = to_recommendations(scored[q]);
    return out;
}

void add_explanations(std::vector<Recommendation>& recs, const UserExplainer& explainer, int n) {
    for (auto& r : recs) r.because = explainer.explain(r.id, n, nullptr);
}

TopKOptions batch_options(const QueryOptions& o) {
    return {.k = o.n,
            .threads = o.threads,
            .progress = o.progress,
            .low_precision = o.low_precision,
            .cancel = o.cancel,
            .first = o.first,
            .count = o.count};
}

void check_users_matrix(const Model& model) {
    if (model.user_items.rows != 0 && model.user_items.rows != model.n_users())
        fail("model has {} users but its user-item matrix has {} rows", model.n_users(), model.user_items.rows);
}

void check_cancel(const QueryOptions& o) {
    if (o.cancel && o.cancel->load()) throw Cancelled();
}

TopKFilter item_filter(const Model& model, const ItemFilter& filter) {
    if (!filter.allowed.empty() && static_cast<std::int64_t>(filter.allowed.size()) != model.n_items())
        fail("item filter has {} entries but the model has {} items", filter.allowed.size(), model.n_items());
    TopKFilter f;
    f.allowed = filter.span();
    return f;
}


// With no play counts, each listed item gets the confidence a typical listener of it had in training
// (the mean of its positive confidences), so the new user weighs like a real one whatever the
// weighting's scale; an item nobody played positively gets the weight of a single play.
std::vector<float> typical_confidences(const Model& model, std::span<const std::int32_t> sorted_ids) {
    std::vector<double> sum(sorted_ids.size(), 0.0);
    std::vector<std::int64_t> count(sorted_ids.size(), 0);
    const Csr& c = model.user_items;
    for (std::int64_t k = 0; k < c.nnz(); ++k) {
        auto it = std::lower_bound(sorted_ids.begin(), sorted_ids.end(), c.indices[static_cast<std::size_t>(k)]);
        if (it == sorted_ids.end() || *it != c.indices[static_cast<std::size_t>(k)]) continue;
        float v = c.values[static_cast<std::size_t>(k)];
        if (v <= 0) continue;
        auto j = static_cast<std::size_t>(it - sorted_ids.begin());
        sum[j] += v;
        ++count[j];
    }
    std::vector<float> one(sorted_ids.size(), 1.0f);
    std::vector<float> conf = weigh_row(sorted_ids, one, model.weighting);
    for (std::size_t j = 0; j < conf.size(); ++j)
        if (count[j] > 0) conf[j] = static_cast<float>(sum[j] / static_cast<double>(count[j]));
    return conf;
}

}  // namespace

UserProfile known_user(const Model& model, std::int64_t user) {
    return {played_items(model, user), played_conf(model, user), user};
}

std::vector<Recommendation> related_items(const Scorer& scorer, std::int32_t item, const ItemFilter& filter,
                                          const QueryOptions& options) {
    const Model& model = scorer.model();
    check_item(model, item);
    check_n(options.n);
    return to_recommendations(scorer.related(item, item_filter(model, filter).allowed, options.n));
}

std::vector<std::vector<Recommendation>> related_all(const Scorer& scorer, const ItemFilter& filter,
                                                     const QueryOptions& options) {
    check_n(options.n);
    auto out = to_recommendations(scorer.related_all(item_filter(scorer.model(), filter).allowed, batch_options(options)));
    if (options.progress && options.first == 0 && options.count < 0) options.progress->set(static_cast<double>(out.size()));
    check_cancel(options);
    return out;
}

std::vector<Recommendation> recommend_user(const Scorer& scorer, std::int32_t user, const ItemFilter& filter,
                                           const QueryOptions& options) {
    const Model& model = scorer.model();
    check_user(model, user);
    check_n(options.n);
    const UserProfile profile = known_user(model, user);
    auto recs = to_recommendations(
        scorer.recommend(profile, item_filter(model, filter).allowed, options.filter_played, options.n));
    if (options.explain > 0 && !recs.empty()) add_explanations(recs, *scorer.explainer(profile), options.explain);
    return recs;
}

std::vector<std::vector<Recommendation>> recommend_all(const Scorer& scorer, const ItemFilter& filter,
                                                       const QueryOptions& options) {
    const Model& model = scorer.model();
    check_n(options.n);
    check_users_matrix(model);
    auto out = to_recommendations(
        scorer.recommend_all(item_filter(model, filter).allowed, options.filter_played, batch_options(options)));
    if (options.progress && options.first == 0 && options.count < 0) options.progress->set(static_cast<double>(out.size()));
    check_cancel(options);
    if (options.explain > 0 && options.n > 0) {
        const auto n_users = static_cast<std::int64_t>(out.size());
        const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
        for (std::int64_t q = 0; q < n_users; ++q) {
            auto& recs = out[static_cast<std::size_t>(q)];
            if (!recs.empty())
                add_explanations(recs, *scorer.explainer(known_user(model, options.first + q)), options.explain);
        }
    }
    return out;
}

FoldedUser fold_in_user(const Model& model, std::span<const std::int32_t> items, std::span<const float> values) {
    if (items.empty()) fail("a new user needs at least one played item");
    if (!values.empty() && values.size() != items.size())
        fail("{} items but {} values for the new user", items.size(), values.size());
    for (auto i : items) check_item(model, i);
    // Sorted, duplicates summed (as for training data): the solve wants one entry per item and the
    // played-items filter wants ids in order.
    std::vector<std::size_t> order(items.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return items[a] < items[b]; });
    FoldedUser u;
    std::vector<float> raw;
    for (auto j : order) {
        float v = values.empty() ? 0.0f : values[j];
        if (!u.items.empty() && u.items.back() == items[j]) {
            raw.back() += v;
        } else {
            u.items.push_back(items[j]);
            raw.push_back(v);
        }
    }
    u.conf = values.empty() ? typical_confidences(model, u.items) : weigh_row(u.items, raw, model.weighting);
    return u;
}

std::vector<Recommendation> recommend_new_user(const Scorer& scorer, std::span<const std::int32_t> items,
                                               std::span<const float> values, const ItemFilter& filter,
                                               const QueryOptions& options) {
    const Model& model = scorer.model();
    check_n(options.n);
    const FoldedUser user = fold_in_user(model, items, values);
    const UserProfile profile = user.profile();
    auto recs = to_recommendations(
        scorer.recommend(profile, item_filter(model, filter).allowed, options.filter_played, options.n));
    if (options.explain > 0 && !recs.empty()) add_explanations(recs, *scorer.explainer(profile), options.explain);
    return recs;
}

std::vector<Recommendation> similar_users(const Scorer& scorer, std::int32_t user, const QueryOptions& options) {
    check_user(scorer.model(), user);
    check_n(options.n);
    return to_recommendations(scorer.similar_users(user, options.n));
}

std::vector<Contribution> explain(const Scorer& scorer, std::span<const std::int32_t> played,
                                  std::span<const float> conf, std::int32_t item, int n, float* total_score) {
    const Model& model = scorer.model();
    check_item(model, item);
    check_n(n);
    if (played.size() != conf.size()) fail("explain: {} played items but {} confidences", played.size(), conf.size());
    for (auto j : played) check_item(model, j);
    return scorer.explainer({played, conf, -1})->explain(item, n, total_score);
}

// ---- On a model -----------------------------------------------------------------------------------

std::vector<Recommendation> related_items(const Model& model, std::int32_t item, const ItemFilter& filter,
                                          const QueryOptions& options) {
    return related_items(*open_scorer(model, options.threads), item, filter, options);
}

std::vector<std::vector<Recommendation>> related_all(const Model& model, const ItemFilter& filter,
                                                     const QueryOptions& options) {
    return related_all(*open_scorer(model, options.threads), filter, options);
}

std::vector<Recommendation> recommend_user(const Model& model, std::int32_t user, const ItemFilter& filter,
                                           const QueryOptions& options) {
    return recommend_user(*open_scorer(model, options.threads), user, filter, options);
}

std::vector<std::vector<Recommendation>> recommend_all(const Model& model, const ItemFilter& filter,
                                                       const QueryOptions& options) {
    return recommend_all(*open_scorer(model, options.threads), filter, options);
}

std::vector<Recommendation> recommend_new_user(const Model& model, std::span<const std::int32_t> items,
                                               std::span<const float> values, const ItemFilter& filter,
                                               const QueryOptions& options) {
    return recommend_new_user(*open_scorer(model, options.threads), items, values, filter, options);
}

std::vector<Recommendation> similar_users(const Model& model, std::int32_t user, const QueryOptions& options) {
    return similar_users(*open_scorer(model, options.threads), user, options);
}

std::vector<Contribution> explain(const Model& model, std::span<const std::int32_t> played,
                                  std::span<const float> conf, std::int32_t item, int n, float* total_score) {
    return explain(*open_scorer(model, 0), played, conf, item, n, total_score);
}

// ---- Through an index ------------------------------------------------------------------------------

void check_index(const Model& model, const AnnIndex& index, AnnMetric metric, const char* query) {
    if (!model.has_factors())
        fail("{}: an index holds item factors, and a {} model has none (query it without --index)", query, model.kind);
    if (index.metric() != metric)
        fail("{} needs a {} index, but this index is {} (build an index with metric {})", query,
             metric_name(metric), metric_name(index.metric()), metric_name(metric));
    if (index.size() != model.n_items() || index.dim() != model.factors())
        fail("the index has {} items x {} factors but the model has {} x {}: it was built from another model",
             index.size(), index.dim(), model.n_items(), model.factors());
    if (index.source_fingerprint() != item_factors_fingerprint(model))
        fail("the index was built from different item factors than this model's (rebuild it with encore index)");
}


namespace {

// What every index query shares: the allowed set (and its size), the search effort.
struct IndexQuery {
    const AnnIndex& index;
    std::span<const std::uint8_t> allowed;
    std::int64_t allowed_count;
    int search;

    IndexQuery(const Model& model, const AnnIndex& index, const ItemFilter& filter, int search)
        : index(index), allowed(item_filter(model, filter).allowed), search(search) {
        allowed_count = allowed.empty() ? index.size() : std::count_if(allowed.begin(), allowed.end(), [](std::uint8_t a) { return a != 0; });
    }

    bool ok(std::int32_t id, std::span<const std::int32_t> excluded) const {
        if (!allowed.empty() && !allowed[static_cast<std::size_t>(id)]) return false;
        return !std::binary_search(excluded.begin(), excluded.end(), id);
    }

    // Top min(n, allowed and not excluded) for query; excluded sorted ascending.
    // item >= 0: the query is that item's own vector (the index may start from the item itself).
    std::vector<ScoredItem> top(std::span<const float> query, int n, std::span<const std::int32_t> excluded,
                                std::int64_t item = -1) const {
        std::int64_t blocked = 0;
        for (auto e : excluded)
            if (e >= 0 && e < index.size() && (allowed.empty() || allowed[static_cast<std::size_t>(e)])) ++blocked;
        const std::int64_t want = std::min<std::int64_t>(n, allowed_count - blocked);
        if (want <= 0) return {};
        // Over-fetch: enough that the excluded items and the disallowed share can all be dropped.
        const std::int64_t total = index.size();
        double fetch = static_cast<double>(want + blocked) * static_cast<double>(total) / static_cast<double>(allowed_count);
        for (int attempt = 0; attempt < 2; ++attempt, fetch *= 4) {
            if (attempt > 0 && fetch > static_cast<double>(total) / 4) break;
            const auto k = static_cast<int>(std::min<double>(static_cast<double>(total), std::ceil(fetch) + 1));
            auto found = item >= 0 ? index.search_item(item, k, search) : index.search(query, k, search);
            std::vector<ScoredItem> kept;
            for (const auto& s : found)
                if (ok(s.id, excluded)) {
                    kept.push_back(s);
                    if (static_cast<std::int64_t>(kept.size()) == want) return kept;
                }
            if (k >= total) break;
        }
        // A filter this narrow is cheaper to answer exactly, over the index's own vectors.
        std::vector<ScoredItem> all;
        const float* q = query.data();
        std::vector<float> normalized;
        if (index.metric() == AnnMetric::cosine) {
            double s = 0;
            for (float x : query) s += static_cast<double>(x) * x;
            normalized.assign(query.begin(), query.end());
            if (s > 0)
                for (float& x : normalized) x = static_cast<float>(x / std::sqrt(s));
            q = normalized.data();
        }
        for (std::int64_t i = 0; i < total; ++i) {
            const auto id = static_cast<std::int32_t>(i);
            if (ok(id, excluded)) all.push_back({id, kernels::inner_product(q, index.item_vector(i).data(), index.dim())});
        }
        const auto keep = static_cast<std::size_t>(want);
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                          [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); });
        all.resize(keep);
        return all;
    }
};

// one(i) for every i in options' rows of 0..total (all of them unless first/count narrow it).
template <typename F>
std::vector<std::vector<Recommendation>> for_all(std::int64_t total, const QueryOptions& options, F&& one) {
    const auto rows = query_rows(batch_options(options), total);
    const std::int64_t count = rows.size();
    std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(count));
    const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (std::int64_t i = 0; i < count; ++i) {
        if (options.cancel && options.cancel->load(std::memory_order_relaxed)) continue;
        out[static_cast<std::size_t>(i)] = one(rows.first + i);
        if (options.progress && (i + 1) % 64 == 0) options.progress->add(64);
    }
    check_cancel(options);
    if (options.progress) options.progress->add(static_cast<double>(count % 64));
    return out;
}

// One related-items query through the index: the item itself is never returned.
std::vector<Recommendation> related_through(const IndexQuery& query, const AnnIndex& index, std::int64_t item, int n) {
    const std::int32_t self[1] = {static_cast<std::int32_t>(item)};
    return to_recommendations(query.top(index.item_vector(item), n, self, item));
}

}  // namespace

std::vector<Recommendation> related_items_index(const Scorer& scorer, const AnnIndex& index, std::int32_t item,
                                                const ItemFilter& filter, const QueryOptions& options, int search) {
    const Model& model = scorer.model();
    check_item(model, item);
    check_n(options.n);
    IndexQuery query(model, index, filter, search);
    return related_through(query, index, item, options.n);
}

std::vector<std::vector<Recommendation>> related_all_index(const Scorer& scorer, const AnnIndex& index,
                                                           const ItemFilter& filter, const QueryOptions& options,
                                                           int search) {
    const Model& model = scorer.model();
    check_n(options.n);
    IndexQuery query(model, index, filter, search);
    return for_all(model.n_items(), options,
                   [&](std::int64_t i) { return related_through(query, index, i, options.n); });
}

std::vector<Recommendation> recommend_user_index(const Scorer& scorer, const AnnIndex& index, std::int32_t user,
                                                 const ItemFilter& filter, const QueryOptions& options, int search) {
    const Model& model = scorer.model();
    check_user(model, user);
    check_n(options.n);
    IndexQuery query(model, index, filter, search);
    const UserProfile profile = known_user(model, user);
    auto recs = to_recommendations(query.top(scorer.user_vector(profile), options.n,
                                             options.filter_played ? profile.items : std::span<const std::int32_t>()));
    if (options.explain > 0 && !recs.empty()) add_explanations(recs, *scorer.explainer(profile), options.explain);
    return recs;
}

std::vector<std::vector<Recommendation>> recommend_all_index(const Scorer& scorer, const AnnIndex& index,
                                                             const ItemFilter& filter, const QueryOptions& options,
                                                             int search) {
    const Model& model = scorer.model();
    check_n(options.n);
    check_users_matrix(model);
    if (options.explain > 0) fail("explanations are for single queries, not every user");
    IndexQuery query(model, index, filter, search);
    return for_all(model.n_users(), options, [&](std::int64_t u) {
        const UserProfile profile = known_user(model, u);
        return to_recommendations(query.top(scorer.user_vector(profile), options.n,
                                            options.filter_played ? profile.items : std::span<const std::int32_t>()));
    });
}

std::vector<Recommendation> related_items_index(const Model& model, const AnnIndex& index, std::int32_t item,
                                                const ItemFilter& filter, const QueryOptions& options, int search) {
    check_index(model, index, AnnMetric::cosine, "related");
    return related_items_index(*open_scorer(model, options.threads), index, item, filter, options, search);
}

std::vector<std::vector<Recommendation>> related_all_index(const Model& model, const AnnIndex& index,
                                                           const ItemFilter& filter, const QueryOptions& options,
                                                           int search) {
    check_index(model, index, AnnMetric::cosine, "related");
    return related_all_index(*open_scorer(model, options.threads), index, filter, options, search);
}

std::vector<Recommendation> recommend_user_index(const Model& model, const AnnIndex& index, std::int32_t user,
                                                 const ItemFilter& filter, const QueryOptions& options, int search) {
    check_index(model, index, AnnMetric::dot, "recommend");
    return recommend_user_index(*open_scorer(model, options.threads), index, user, filter, options, search);
}

std::vector<std::vector<Recommendation>> recommend_all_index(const Model& model, const AnnIndex& index,
                                                             const ItemFilter& filter, const QueryOptions& options,
                                                             int search) {
    check_index(model, index, AnnMetric::dot, "recommend");
    return recommend_all_index(*open_scorer(model, options.threads), index, filter, options, search);
}

}  // namespace encore
