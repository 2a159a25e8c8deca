#include "encore/data/weighting.hpp"

#include <cmath>

#include <omp.h>

#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

struct KindName {
    WeightingKind kind;
    std::string_view name;
};
constexpr KindName kKinds[] = {{WeightingKind::none, "none"},
                               {WeightingKind::bm25, "bm25"},
                               {WeightingKind::tfidf, "tfidf"},
                               {WeightingKind::linear, "linear"},
                               {WeightingKind::log, "log"}};

void check_options(const WeightingOptions& o) {
    // Only the parameters the kind uses; written as !(ok) so that NaN is rejected too.
    if (o.kind == WeightingKind::bm25) {
        if (!(o.K1 > 0.0f) || !std::isfinite(o.K1)) throw OptionError(fmt::format("K1 must be > 0 (got {})", o.K1));
        if (!(o.B >= 0.0f && o.B <= 1.0f)) throw OptionError(fmt::format("B must be in [0, 1] (got {})", o.B));
    }
    if (o.alpha && (!(*o.alpha > 0.0f) || !std::isfinite(*o.alpha)))
        throw OptionError(fmt::format("alpha must be > 0 (got {})", *o.alpha));
    if (o.kind == WeightingKind::log) {
        if (!(o.eps > 0.0f) || !std::isfinite(o.eps)) throw OptionError(fmt::format("eps must be > 0 (got {})", o.eps));
    }
}

// idf of a user ("term") that occurs in n_u of the n_items documents: log(N) - log1p(n_u).
double user_idf(std::int64_t n_items, std::size_t n_u) {
    return std::log(static_cast<double>(n_items)) - std::log1p(static_cast<double>(n_u));
}

// The one definition of the per-row weighting, used by apply_weighting and weigh_row alike so a
// folded-in user is weighted exactly as the training rows were. Computed in double, rounded once.
void weigh_into(std::span<const std::int32_t> items, std::span<const float> values, const WeightingModel& m,
                float* out) {
    const auto& o = m.options;
    const std::size_t n = items.size();
    const double alpha = o.alpha.value_or(default_alpha(o.kind));
    switch (o.kind) {
        case WeightingKind::none:
            for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<float>(alpha * values[j]);
            return;
        case WeightingKind::linear:
            for (std::size_t j = 0; j < n; ++j) {
                double x = values[j], c = 1.0 + alpha * std::fabs(x);
                out[j] = static_cast<float>(x < 0 ? -c : c);
            }
            return;
        case WeightingKind::log:
            for (std::size_t j = 0; j < n; ++j) {
                double x = values[j];
                double c = 1.0 + alpha * std::log1p(std::fabs(x) / static_cast<double>(o.eps));
                out[j] = static_cast<float>(x < 0 ? -c : c);
            }
            return;
        case WeightingKind::tfidf: {
            const double idf = alpha * user_idf(m.n_items, n);
            for (std::size_t j = 0; j < n; ++j) {
                double x = values[j], c = std::sqrt(std::fabs(x)) * idf;
                out[j] = static_cast<float>(x < 0 ? -c : c);
            }
            return;
        }
        case WeightingKind::bm25: {
            const double idf = alpha * user_idf(m.n_items, n);
            const double k1 = o.K1;
            for (std::size_t j = 0; j < n; ++j) {
                double x = values[j], ax = std::fabs(x);
                double norm = m.item_length_norm[static_cast<std::size_t>(items[j])];
                // ax == 0 would be 0/0 for an item whose norm is 0 (B = 1, no plays): weight 0 then.
                double c = ax == 0.0 ? 0.0 : ax * (k1 + 1.0) / (k1 * norm + ax) * idf;
                out[j] = static_cast<float>(x < 0 ? -c : c);
            }
            return;
        }
    }
}

void check_model(const WeightingModel& m) {
    check_options(m.options);
    if (m.options.kind == WeightingKind::bm25 && static_cast<std::int64_t>(m.item_length_norm.size()) != m.n_items)
        fail("weighting: bm25 statistics cover {} items, expected {}", m.item_length_norm.size(), m.n_items);
}

}  // namespace

WeightingKind parse_weighting(std::string_view name) {
    for (const auto& k : kKinds)
        if (k.name == name) return k.kind;
    throw OptionError(fmt::format("weighting: unknown weighting '{}' (expected none, bm25, tfidf, linear or log)", name));
}

float default_alpha(WeightingKind kind) {
    return (kind == WeightingKind::linear || kind == WeightingKind::log) ? 40.0f : 1.0f;
}

std::string_view weighting_name(WeightingKind k) {
    for (const auto& e : kKinds)
        if (e.kind == k) return e.name;
    return "unknown";
}

WeightingModel fit_weighting(const Csr& by_user, const WeightingOptions& options) {
    check_options(options);
    WeightingModel m;
    m.options = options;
    m.options.alpha = options.alpha.value_or(default_alpha(options.kind));
    m.n_items = by_user.cols;
    if (options.kind != WeightingKind::bm25) return m;
    // L_i = total |plays| of item i (a document's length), accumulated in double in row order.
    std::vector<double> length(static_cast<std::size_t>(by_user.cols), 0.0);
    for (std::int64_t u = 0; u < by_user.rows; ++u) {
        auto idx = by_user.row_indices(u);
        auto val = by_user.row_values(u);
        for (std::size_t j = 0; j < idx.size(); ++j) length[static_cast<std::size_t>(idx[j])] += std::fabs(val[j]);
    }
    double total = 0;
    for (double l : length) total += l;
    const double mean = by_user.cols > 0 ? total / static_cast<double>(by_user.cols) : 0.0;
    const double b = options.B;
    m.item_length_norm.resize(length.size());
    for (std::size_t i = 0; i < length.size(); ++i)
        // With no plays at all every L_i is 0: treat each as average length rather than divide by 0.
        m.item_length_norm[i] = static_cast<float>((1.0 - b) + b * (mean > 0 ? length[i] / mean : 1.0));
    return m;
}

Csr apply_weighting(const Csr& by_user, const WeightingModel& model, int threads) {
    check_model(model);
    if (by_user.cols != model.n_items)
        fail("weighting: the matrix has {} items but the weighting was fitted on {}", by_user.cols, model.n_items);
    threads = resolve_threads(threads);
    std::vector<float> out(static_cast<std::size_t>(by_user.nnz()));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
    for (std::int64_t u = 0; u < by_user.rows; ++u)
        weigh_into(by_user.row_indices(u), by_user.row_values(u), model, out.data() + by_user.indptr[u]);
    return by_user.with_values(std::move(out));
}

std::vector<float> weigh_row(std::span<const std::int32_t> items, std::span<const float> values,
                             const WeightingModel& model) {
    check_model(model);
    if (items.size() != values.size())
        fail("weigh_row: {} items but {} values", items.size(), values.size());
    for (auto i : items)
        if (i < 0 || i >= model.n_items) fail("weigh_row: item index {} outside 0..{}", i, model.n_items - 1);
    std::vector<float> out(items.size());
    weigh_into(items, values, model, out.data());
    return out;
}

}  // namespace encore
