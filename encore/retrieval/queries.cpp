// The queries a model answers. Every ranking goes through top_k_rows / top_k_one; this file only picks
// the query and target matrices (normalised for cosine), the filters, and adds explanations.
#include "encore/retrieval/queries.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include <Eigen/Dense>
#include <fmt/format.h>

#include "encore/kernels/distance.hpp"
#include "encore/models/als.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/retrieval/knn_queries.hpp"
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
    return model.user_items.row_indices(user);
}

std::vector<Recommendation> to_recommendations(const std::vector<ScoredItem>& scored) {
    std::vector<Recommendation> out;
    out.reserve(scored.size());
    for (const auto& s : scored) out.push_back({s.id, s.score, {}});
    return out;
}

// How a factor model's score splits over the played items:
//   als         exact: implicit's Gram decomposition (below)
//   lsa         exact: x_u = C_u Y (YtY)^-1, so the share of j is c_uj y_i^T (YtY)^-1 y_j
//   similarity  bpr, lmf: the user vector is learned, not a function of the plays; the played items most
//               like the result (cosine of item factors) are named instead, with that cosine as score
//   none        popular: nothing to explain
enum class ExplainMode { als, lsa, similarity, none };

ExplainMode explain_mode(const Model& model) {
    if (model.kind == "als") return ExplainMode::als;
    if (model.kind == "lsa") return ExplainMode::lsa;
    if (model.kind == "popular") return ExplainMode::none;
    return ExplainMode::similarity;
}

// The Gram matrix an explanation (or an ALS/LSA fold-in) needs; empty when the mode needs none.
std::vector<float> explain_gram(const Model& model, int threads) {
    switch (explain_mode(model)) {
        case ExplainMode::als: return als_gram(model.item_factors, model.regularization, threads);
        case ExplainMode::lsa: return als_gram(model.item_factors, 0.0f, threads);
        default: return {};
    }
}

// One user's side of implicit's explanation: W_u = YtY + lambda I + sum (|c| - 1) y y^T, factorised once;
// each item then costs one solve plus one dot product per played item. (lsa: W = YtY; see above.)
class UserExplainer {
public:
    UserExplainer(const Model& model, const std::vector<float>& gram, std::span<const std::int32_t> items,
                  std::span<const float> conf)
        : Y_(model.item_factors), items_(items), conf_(conf), mode_(explain_mode(model)) {
        const auto& Y = Y_;
        const auto k = Y.cols();
        if (mode_ == ExplainMode::similarity || mode_ == ExplainMode::none) return;
        // Double: the split must add up to x_u . y_i, and W_u can be poorly conditioned for heavy users.
        Eigen::MatrixXd W = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                                gram.data(), k, k)
                                .cast<double>();
        for (std::size_t j = 0; mode_ == ExplainMode::als && j < items.size(); ++j) {
            Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXf>(Y.row(items[j]), k).cast<double>();
            W.noalias() += (std::fabs(static_cast<double>(conf[j])) - 1.0) * (y * y.transpose());
        }
        ldlt_.compute(W);
    }

    std::vector<Contribution> explain(std::int32_t item, int n, float* total_score) const {
        const auto k = Y_.cols();
        std::vector<Contribution> all;
        double total = 0;
        if (mode_ == ExplainMode::similarity) {
            Eigen::VectorXd yi = Eigen::Map<const Eigen::VectorXf>(Y_.row(item), k).cast<double>();
            const double ni = yi.norm();
            for (std::size_t j = 0; j < items_.size() && ni > 0; ++j) {
                if (!(conf_[j] > 0)) continue;
                Eigen::VectorXd yj = Eigen::Map<const Eigen::VectorXf>(Y_.row(items_[j]), k).cast<double>();
                const double nj = yj.norm();
                if (nj > 0) all.push_back({items_[j], static_cast<float>(yi.dot(yj) / (ni * nj))});
            }
        } else if (mode_ != ExplainMode::none) {
            Eigen::VectorXd weighted =
                ldlt_.solve(Eigen::Map<const Eigen::VectorXf>(Y_.row(item), k).cast<double>());
            for (std::size_t j = 0; j < items_.size(); ++j) {
                if (!(conf_[j] > 0)) continue;  // dislikes shape W_u but add nothing to the score
                double c = static_cast<double>(conf_[j]) *
                           weighted.dot(Eigen::Map<const Eigen::VectorXf>(Y_.row(items_[j]), k).cast<double>());
                total += c;
                all.push_back({items_[j], static_cast<float>(c)});
            }
        }
        if (total_score) *total_score = static_cast<float>(total);
        auto better = [](const Contribution& a, const Contribution& b) {
            return a.score > b.score || (a.score == b.score && a.item < b.item);
        };
        const std::size_t keep = std::min(all.size(), static_cast<std::size_t>(std::max(n, 0)));
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), better);
        all.resize(keep);
        return all;
    }

private:
    const Matrix& Y_;
    std::span<const std::int32_t> items_;
    std::span<const float> conf_;
    ExplainMode mode_;
    Eigen::LDLT<Eigen::MatrixXd> ldlt_;
};

std::span<const float> played_conf(const Model& model, std::int64_t user) {
    return model.user_items.rows == 0 ? std::span<const float>() : model.user_items.row_values(user);
}

// Popular: every query ranks the same global order (listeners), so batch related lists share it.
std::vector<Recommendation> popular_related(const Model& model, const std::vector<std::int32_t>& order,
                                            std::int32_t item, std::span<const std::uint8_t> allowed, int n) {
    std::vector<Recommendation> out;
    for (auto j : order) {
        if (static_cast<int>(out.size()) >= n) break;
        if (j == item || (!allowed.empty() && !allowed[j])) continue;
        out.push_back({j, model.item_factors.row(j)[0], {}});
    }
    return out;
}

std::vector<std::int32_t> popularity_order(const Model& model) {
    std::vector<std::int32_t> order(static_cast<std::size_t>(model.n_items()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
        return model.item_factors.row(a)[0] > model.item_factors.row(b)[0];
    });
    return order;
}

void check_factor_model(const Model& model, const char* what) {
    if (!model.has_factors()) fail("{} needs a factor model (this one is {})", what, model.kind);
}

void add_explanations(std::vector<Recommendation>& recs, const UserExplainer& explainer, int n) {
    for (auto& r : recs) r.because = explainer.explain(r.id, n, nullptr);
}

TopKFilter item_filter(const Model& model, const ItemFilter& filter) {
    if (!filter.allowed.empty() && static_cast<std::int64_t>(filter.allowed.size()) != model.n_items())
        fail("item filter has {} entries but the model has {} items", filter.allowed.size(), model.n_items());
    TopKFilter f;
    f.allowed = filter.span();
    return f;
}

}  // namespace

std::vector<Recommendation> related_items(const Model& model, std::int32_t item, const ItemFilter& filter,
                                          const QueryOptions& options) {
    check_item(model, item);
    check_n(options.n);
    TopKFilter f = item_filter(model, filter);
    if (model.kind == "knn") return knn_related(model, item, f.allowed, options.n);
    if (model.kind == "popular") return popular_related(model, popularity_order(model), item, f.allowed, options.n);
    Matrix normalized = normalized_rows(model.item_factors, options.threads);
    const std::int32_t self[1] = {item};
    f.excluded = [&self](std::int64_t) { return std::span<const std::int32_t>(self); };
    return to_recommendations(top_k_one(normalized.row_span(item), normalized, f, options.n, item));
}

std::vector<std::vector<Recommendation>> related_all(const Model& model, const ItemFilter& filter,
                                                     const QueryOptions& options) {
    check_n(options.n);
    TopKFilter f = item_filter(model, filter);
    if (!model.has_factors() || model.kind == "popular") {
        const auto n_items = model.n_items();
        std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(n_items));
        const auto order = model.kind == "popular" ? popularity_order(model) : std::vector<std::int32_t>{};
        const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
        for (std::int64_t i = 0; i < n_items; ++i) {
            const auto item = static_cast<std::int32_t>(i);
            out[static_cast<std::size_t>(i)] = model.kind == "knn" ? knn_related(model, item, f.allowed, options.n)
                                                                   : popular_related(model, order, item, f.allowed, options.n);
            if (options.progress) options.progress->add(1);
        }
        return out;
    }
    Matrix normalized = normalized_rows(model.item_factors, options.threads);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(model.n_items()));
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
    f.excluded = [&ids](std::int64_t q) { return std::span<const std::int32_t>(ids).subspan(static_cast<std::size_t>(q), 1); };
    auto scored = top_k_rows(normalized, normalized, f,
                             {.k = options.n,
                              .threads = options.threads,
                              .progress = options.progress,
                              .low_precision = options.low_precision});
    std::vector<std::vector<Recommendation>> out(scored.size());
    for (std::size_t q = 0; q < scored.size(); ++q) out[q] = to_recommendations(scored[q]);
    return out;
}

std::vector<Recommendation> recommend_user(const Model& model, std::int32_t user, const ItemFilter& filter,
                                           const QueryOptions& options) {
    check_user(model, user);
    check_n(options.n);
    auto played = played_items(model, user);
    TopKFilter f = item_filter(model, filter);
    if (!model.has_factors())
        return knn_recommend(model, played, played_conf(model, user), f.allowed, options.filter_played, options.n,
                             options.explain);
    if (options.filter_played) f.excluded = [played](std::int64_t) { return played; };
    auto recs = to_recommendations(top_k_one(model.user_factors.row_span(user), model.item_factors, f, options.n, user));
    if (options.explain > 0 && !recs.empty()) {
        auto gram = explain_gram(model, options.threads);
        add_explanations(recs, UserExplainer(model, gram, played, played_conf(model, user)), options.explain);
    }
    return recs;
}

std::vector<std::vector<Recommendation>> recommend_all(const Model& model, const ItemFilter& filter,
                                                       const QueryOptions& options) {
    check_n(options.n);
    if (model.user_items.rows != 0 && model.user_items.rows != model.n_users())
        fail("model has {} users but its user-item matrix has {} rows", model.n_users(), model.user_items.rows);
    TopKFilter f = item_filter(model, filter);
    if (!model.has_factors()) {
        const auto n_users = model.n_users();
        std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(n_users));
        const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
        for (std::int64_t u = 0; u < n_users; ++u) {
            out[static_cast<std::size_t>(u)] = knn_recommend(model, played_items(model, u), played_conf(model, u),
                                                             f.allowed, options.filter_played, options.n, options.explain);
            if (options.progress) options.progress->add(1);
        }
        return out;
    }
    if (options.filter_played && model.user_items.rows != 0)
        f.excluded = [&model](std::int64_t u) { return model.user_items.row_indices(u); };
    auto scored = top_k_rows(model.user_factors, model.item_factors, f,
                             {.k = options.n,
                              .threads = options.threads,
                              .progress = options.progress,
                              .low_precision = options.low_precision});
    std::vector<std::vector<Recommendation>> out(scored.size());
    for (std::size_t u = 0; u < scored.size(); ++u) out[u] = to_recommendations(scored[u]);
    if (options.explain > 0 && options.n > 0) {
        auto gram = explain_gram(model, options.threads);
        const auto n_users = static_cast<std::int64_t>(out.size());
        const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
        for (std::int64_t u = 0; u < n_users; ++u) {
            auto& recs = out[static_cast<std::size_t>(u)];
            if (recs.empty()) continue;
            add_explanations(recs, UserExplainer(model, gram, played_items(model, u), played_conf(model, u)),
                             options.explain);
        }
    }
    return out;
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

std::vector<Recommendation> recommend_new_user(const Model& model, std::span<const std::int32_t> items,
                                               std::span<const float> values, const ItemFilter& filter,
                                               const QueryOptions& options) {
    check_n(options.n);
    if (items.empty()) fail("a new user needs at least one played item");
    if (!values.empty() && values.size() != items.size())
        fail("{} items but {} values for the new user", items.size(), values.size());
    for (auto i : items) check_item(model, i);
    // Sorted, duplicates summed (as for training data): the solve wants one entry per item and the
    // played-items filter wants ids in order.
    std::vector<std::size_t> order(items.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return items[a] < items[b]; });
    std::vector<std::int32_t> ids;
    std::vector<float> raw;
    for (auto j : order) {
        float v = values.empty() ? 0.0f : values[j];
        if (!ids.empty() && ids.back() == items[j]) {
            raw.back() += v;
        } else {
            ids.push_back(items[j]);
            raw.push_back(v);
        }
    }
    std::vector<float> conf = values.empty() ? typical_confidences(model, ids) : weigh_row(ids, raw, model.weighting);
    TopKFilter f = item_filter(model, filter);
    if (!model.has_factors())
        return knn_recommend(model, ids, conf, f.allowed, options.filter_played, options.n, options.explain);
    std::vector<float> x(static_cast<std::size_t>(model.factors()));
    if (model.kind == "popular") {
        x[0] = 1.0f;
    } else if (model.kind == "lsa") {
        // LSA's own user vector: x = (YtY)^-1 sum c_j y_j (exactly how training computed user factors).
        auto gram = explain_gram(model, options.threads);
        const auto k = model.factors();
        Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> G(gram.data(), k, k);
        Eigen::VectorXd rhs = Eigen::VectorXd::Zero(k);
        for (std::size_t j = 0; j < ids.size(); ++j)
            rhs += static_cast<double>(conf[j]) * Eigen::Map<const Eigen::VectorXf>(model.item_factors.row(ids[j]), k).cast<double>();
        Eigen::VectorXd sol = G.cast<double>().ldlt().solve(rhs);
        for (std::int64_t f2 = 0; f2 < k; ++f2) x[static_cast<std::size_t>(f2)] = static_cast<float>(sol(f2));
    } else {
        // ALS exactly; bpr and lmf have no closed form for a new user, so the ALS least-squares fit
        // against their item factors (with their regularization) stands in.
        auto gram = als_gram(model.item_factors, model.regularization, options.threads);
        als_solve_row(gram, model.item_factors, ids, conf, x.data());
    }

    if (options.filter_played) f.excluded = [&ids](std::int64_t) { return std::span<const std::int32_t>(ids); };
    auto recs = to_recommendations(top_k_one(x, model.item_factors, f, options.n, 0));
    if (options.explain > 0 && !recs.empty())
        add_explanations(recs, UserExplainer(model, explain_gram(model, options.threads), ids, conf), options.explain);
    return recs;
}

std::vector<Recommendation> similar_users(const Model& model, std::int32_t user, const QueryOptions& options) {
    check_user(model, user);
    check_n(options.n);
    check_factor_model(model, "similar users");
    Matrix normalized = normalized_rows(model.user_factors, options.threads);
    TopKFilter f;
    const std::int32_t self[1] = {user};
    f.excluded = [&self](std::int64_t) { return std::span<const std::int32_t>(self); };
    return to_recommendations(top_k_one(normalized.row_span(user), normalized, f, options.n, user));
}

std::vector<Contribution> explain(const Model& model, std::span<const std::int32_t> played,
                                  std::span<const float> conf, std::int32_t item, int n, float* total_score) {
    check_item(model, item);
    check_n(n);
    if (played.size() != conf.size()) fail("explain: {} played items but {} confidences", played.size(), conf.size());
    for (auto j : played) check_item(model, j);
    if (!model.has_factors()) return knn_explain(model, played, conf, item, n, total_score);
    return UserExplainer(model, explain_gram(model, 0), played, conf).explain(item, n, total_score);
}

// ---- Queries through an approximate index -------------------------------------------------------

namespace {

void check_index(const Model& model, const AnnIndex& index, AnnMetric metric, const char* query) {
    if (!model.has_factors())
        fail("{}: an index holds item factors, and a {} model has none (query it without --index)", query, model.kind);
    if (index.metric() != metric)
        fail("{} needs a {} index, but this index is {} (build one with: encore index MODEL --metric {})", query,
             metric_name(metric), metric_name(index.metric()), metric_name(metric));
    if (index.size() != model.n_items() || index.dim() != model.factors())
        fail("the index has {} items x {} factors but the model has {} x {}: it was built from another model",
             index.size(), index.dim(), model.n_items(), model.factors());
    if (index.source_fingerprint() != vectors_fingerprint(model.item_factors))
        fail("the index was built from different item factors than this model's (rebuild it with encore index)");
}

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

template <typename F>
std::vector<std::vector<Recommendation>> for_all(std::int64_t count, const QueryOptions& options, F&& one) {
    std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(count));
    const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (std::int64_t i = 0; i < count; ++i) {
        out[static_cast<std::size_t>(i)] = one(i);
        if (options.progress && (i + 1) % 64 == 0) options.progress->add(64);
    }
    if (options.progress) options.progress->add(static_cast<double>(count % 64));
    return out;
}

// One related-items query through the index: the item itself is never returned.
std::vector<Recommendation> related_through(const IndexQuery& query, const AnnIndex& index, std::int64_t item, int n) {
    const std::int32_t self[1] = {static_cast<std::int32_t>(item)};
    return to_recommendations(query.top(index.item_vector(item), n, self, item));
}

}  // namespace

std::vector<Recommendation> related_items_index(const Model& model, const AnnIndex& index, std::int32_t item,
                                                const ItemFilter& filter, const QueryOptions& options, int search) {
    check_item(model, item);
    check_n(options.n);
    check_index(model, index, AnnMetric::cosine, "related");
    IndexQuery query(model, index, filter, search);
    return related_through(query, index, item, options.n);
}

std::vector<std::vector<Recommendation>> related_all_index(const Model& model, const AnnIndex& index,
                                                           const ItemFilter& filter, const QueryOptions& options,
                                                           int search) {
    check_n(options.n);
    check_index(model, index, AnnMetric::cosine, "related");
    IndexQuery query(model, index, filter, search);
    return for_all(model.n_items(), options,
                   [&](std::int64_t i) { return related_through(query, index, i, options.n); });
}

std::vector<Recommendation> recommend_user_index(const Model& model, const AnnIndex& index, std::int32_t user,
                                                 const ItemFilter& filter, const QueryOptions& options, int search) {
    check_user(model, user);
    check_n(options.n);
    check_index(model, index, AnnMetric::dot, "recommend");
    IndexQuery query(model, index, filter, search);
    auto played = played_items(model, user);
    auto recs = to_recommendations(
        query.top(model.user_factors.row_span(user), options.n, options.filter_played ? played : std::span<const std::int32_t>()));
    if (options.explain > 0 && !recs.empty()) {
        auto gram = explain_gram(model, options.threads);
        add_explanations(recs, UserExplainer(model, gram, played, played_conf(model, user)), options.explain);
    }
    return recs;
}

std::vector<std::vector<Recommendation>> recommend_all_index(const Model& model, const AnnIndex& index,
                                                             const ItemFilter& filter, const QueryOptions& options,
                                                             int search) {
    check_n(options.n);
    check_index(model, index, AnnMetric::dot, "recommend");
    if (model.user_items.rows != 0 && model.user_items.rows != model.n_users())
        fail("model has {} users but its user-item matrix has {} rows", model.n_users(), model.user_items.rows);
    if (options.explain > 0) fail("explanations are for single queries, not every user");
    IndexQuery query(model, index, filter, search);
    return for_all(model.n_users(), options, [&](std::int64_t u) {
        auto played = options.filter_played ? played_items(model, u) : std::span<const std::int32_t>();
        return to_recommendations(query.top(model.user_factors.row_span(u), options.n, played));
    });
}

}  // namespace encore
