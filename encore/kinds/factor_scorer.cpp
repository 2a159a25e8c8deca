#include "encore/kinds/factor_scorer.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "encore/models/als.hpp"
#include "encore/util/error.hpp"

namespace encore {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::VectorXd row_d(const Matrix& Y, std::int64_t i) {
    return Eigen::Map<const Eigen::VectorXf>(Y.row(i), Y.cols()).cast<double>();
}

std::vector<Contribution> best_contributions(std::vector<Contribution> all, int n) {
    auto better = [](const Contribution& a, const Contribution& b) {
        return a.score > b.score || (a.score == b.score && a.item < b.item);
    };
    const std::size_t keep = std::min(all.size(), static_cast<std::size_t>(std::max(n, 0)));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), better);
    all.resize(keep);
    return all;
}

// One user's side of a factor model's explanation (FactorRules::Explain): for the Gram modes
// W_u = YtY + lambda I (+ sum (|c| - 1) y y^T for ALS) is factorised once; each item then costs one
// solve plus one dot product per played item.
class FactorExplainer : public UserExplainer {
public:
    FactorExplainer(const Matrix& Y, const std::vector<float>* gram, FactorRules::Explain mode, const UserProfile& u)
        : Y_(Y), items_(u.items), conf_(u.conf), mode_(mode) {
        if (mode_ != FactorRules::Explain::weighted_gram && mode_ != FactorRules::Explain::gram) return;
        const auto k = Y.cols();
        // Double: the split must add up to x_u . y_i, and W_u can be poorly conditioned for heavy users.
        Eigen::MatrixXd W = Eigen::Map<const RowMajor>(gram->data(), k, k).cast<double>();
        for (std::size_t j = 0; mode_ == FactorRules::Explain::weighted_gram && j < items_.size(); ++j) {
            Eigen::VectorXd y = row_d(Y, items_[j]);
            W.noalias() += (std::fabs(static_cast<double>(conf_[j])) - 1.0) * (y * y.transpose());
        }
        ldlt_.compute(W);
    }

    std::vector<Contribution> explain(std::int32_t item, int n, float* total_score) const override {
        std::vector<Contribution> all;
        double total = 0;
        if (mode_ == FactorRules::Explain::similarity) {
            Eigen::VectorXd yi = row_d(Y_, item);
            const double ni = yi.norm();
            for (std::size_t j = 0; j < items_.size() && ni > 0; ++j) {
                if (!(conf_[j] > 0)) continue;
                Eigen::VectorXd yj = row_d(Y_, items_[j]);
                const double nj = yj.norm();
                if (nj > 0) all.push_back({items_[j], static_cast<float>(yi.dot(yj) / (ni * nj))});
            }
        } else if (mode_ != FactorRules::Explain::none) {
            Eigen::VectorXd weighted = ldlt_.solve(row_d(Y_, item));
            for (std::size_t j = 0; j < items_.size(); ++j) {
                if (!(conf_[j] > 0)) continue;  // dislikes shape W_u but add nothing to the score
                double c = static_cast<double>(conf_[j]) * weighted.dot(row_d(Y_, items_[j]));
                total += c;
                all.push_back({items_[j], static_cast<float>(c)});
            }
        }
        if (total_score) *total_score = static_cast<float>(total);
        return best_contributions(std::move(all), n);
    }

private:
    const Matrix& Y_;
    std::span<const std::int32_t> items_;
    std::span<const float> conf_;
    FactorRules::Explain mode_;
    Eigen::LDLT<Eigen::MatrixXd> ldlt_;
};

// A half-precision copy of m where the single-query scan can use it, else null.
std::unique_ptr<kernels::HalfRows> half_copy(const Matrix& m, int threads) {
    if (!kernels::has_half_scan() || !half_scan_pays(m)) return nullptr;
    auto h = std::make_unique<kernels::HalfRows>(m, threads);
    if (!h->usable()) return nullptr;
    return h;
}

double dot(const float* a, const float* b, std::int64_t n) {
    double s = 0;
    for (std::int64_t k = 0; k < n; ++k) s += double(a[k]) * b[k];
    return s;
}

}  // namespace

FactorScorer::FactorScorer(const Model& model, FactorRules rules, int threads)
    : model_(model), rules_(rules), threads_(threads) {
    if (model.factors() < 1) fail("a {} model needs factors, this one has none", model.kind);
}

const Matrix& FactorScorer::unit_items() const {
    std::call_once(items_once_, [&] { unit_items_ = normalized_rows(model_.item_factors, threads_); });
    return unit_items_;
}

const Matrix& FactorScorer::unit_users() const {
    std::call_once(users_once_, [&] { unit_users_ = normalized_rows(model_.user_factors, threads_); });
    return unit_users_;
}

const kernels::HalfRows* FactorScorer::half_unit_items() const {
    std::call_once(half_unit_once_, [&] { half_unit_items_ = half_copy(unit_items(), threads_); });
    return half_unit_items_.get();
}

const kernels::HalfRows* FactorScorer::half_items() const {
    std::call_once(half_items_once_, [&] { half_items_ = half_copy(model_.item_factors, threads_); });
    return half_items_.get();
}

const std::vector<float>& FactorScorer::gram() const {
    std::call_once(gram_once_, [&] {
        // ALS (and the bpr/lmf stand-in) solve with the model's lambda; LSA's projection has none.
        if (rules_.fold_in == FactorRules::FoldIn::least_squares)
            gram_ = als_gram(model_.item_factors, model_.regularization, threads_);
        else if (rules_.fold_in == FactorRules::FoldIn::projection)
            gram_ = als_gram(model_.item_factors, 0.0f, threads_);
    });
    return gram_;
}

std::vector<ScoredItem> FactorScorer::related(std::int32_t item, std::span<const std::uint8_t> allowed, int n) const {
    const Matrix& unit = unit_items();
    TopKFilter f;
    f.allowed = allowed;
    const std::int32_t self[1] = {item};
    f.excluded = [&self](std::int64_t) { return std::span<const std::int32_t>(self); };
    return top_k_one(unit.row_span(item), unit, f, n, item, half_unit_items());
}

std::vector<std::vector<ScoredItem>> FactorScorer::related_all(std::span<const std::uint8_t> allowed,
                                                               const TopKOptions& options) const {
    const Matrix& unit = unit_items();
    std::vector<std::int32_t> ids(static_cast<std::size_t>(model_.n_items()));
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
    TopKFilter f;
    f.allowed = allowed;
    f.excluded = [&ids](std::int64_t q) { return std::span<const std::int32_t>(ids).subspan(static_cast<std::size_t>(q), 1); };
    return top_k_rows(unit, unit, f, options);
}

std::vector<std::vector<ScoredItem>> FactorScorer::related_for(std::span<const std::int32_t> items, int n,
                                                               int threads) const {
    const Matrix& unit = unit_items();
    Matrix queries(static_cast<std::int64_t>(items.size()), unit.cols());
    for (std::size_t k = 0; k < items.size(); ++k)
        std::copy_n(unit.row(items[k]), unit.cols(), queries.row(static_cast<std::int64_t>(k)));
    TopKFilter f;
    f.excluded = [&items](std::int64_t q) { return items.subspan(static_cast<std::size_t>(q), 1); };
    return top_k_rows(queries, unit, f, {.k = n, .threads = threads, .progress = nullptr});
}

double FactorScorer::similarity(std::int32_t item, std::int32_t other) const {
    const Matrix& u = unit_items();
    return dot(u.row(item), u.row(other), u.cols());
}

std::vector<float> FactorScorer::user_vector(const UserProfile& user) const {
    const auto k = model_.factors();
    if (user.user >= 0) return {model_.user_factors.row(user.user), model_.user_factors.row(user.user) + k};
    std::vector<float> x(static_cast<std::size_t>(k), 0.0f);
    switch (rules_.fold_in) {
        case FactorRules::FoldIn::constant: x[0] = 1.0f; break;
        case FactorRules::FoldIn::projection: {
            const auto& g = gram();
            Eigen::Map<const RowMajor> G(g.data(), k, k);
            Eigen::VectorXd rhs = Eigen::VectorXd::Zero(k);
            for (std::size_t j = 0; j < user.items.size(); ++j)
                rhs += static_cast<double>(user.conf[j]) * row_d(model_.item_factors, user.items[j]);
            Eigen::VectorXd sol = G.cast<double>().ldlt().solve(rhs);
            for (std::int64_t f = 0; f < k; ++f) x[static_cast<std::size_t>(f)] = static_cast<float>(sol(f));
            break;
        }
        case FactorRules::FoldIn::least_squares:
            als_solve_row(gram(), model_.item_factors, user.items, user.conf, x.data());
            break;
    }
    return x;
}

std::vector<ScoredItem> FactorScorer::recommend(const UserProfile& user, std::span<const std::uint8_t> allowed,
                                                bool filter_played, int n) const {
    TopKFilter f;
    f.allowed = allowed;
    auto played = user.items;
    if (filter_played) f.excluded = [played](std::int64_t) { return played; };
    if (user.user >= 0)
        return top_k_one(model_.user_factors.row_span(user.user), model_.item_factors, f, n, user.user, half_items());
    auto x = user_vector(user);
    return top_k_one(x, model_.item_factors, f, n, 0, half_items());
}

std::vector<std::vector<ScoredItem>> FactorScorer::recommend_all(std::span<const std::uint8_t> allowed,
                                                                 bool filter_played, const TopKOptions& options) const {
    TopKFilter f;
    f.allowed = allowed;
    if (filter_played && model_.user_items.rows != 0)
        f.excluded = [this](std::int64_t u) { return model_.user_items.row_indices(u); };
    return top_k_rows(model_.user_factors, model_.item_factors, f, options);
}

double FactorScorer::score(const UserProfile& user, std::int32_t item) const {
    if (user.user >= 0) return dot(model_.user_factors.row(user.user), model_.item_factors.row(item), model_.factors());
    auto x = user_vector(user);
    return dot(x.data(), model_.item_factors.row(item), model_.factors());
}

std::unique_ptr<UserExplainer> FactorScorer::explainer(const UserProfile& user) const {
    const bool needs_gram = rules_.explain == FactorRules::Explain::weighted_gram || rules_.explain == FactorRules::Explain::gram;
    return std::make_unique<FactorExplainer>(model_.item_factors, needs_gram ? &gram() : nullptr, rules_.explain, user);
}

std::vector<ScoredItem> FactorScorer::similar_users(std::int32_t user, int n) const {
    const Matrix& unit = unit_users();
    TopKFilter f;
    const std::int32_t self[1] = {user};
    f.excluded = [&self](std::int64_t) { return std::span<const std::int32_t>(self); };
    return top_k_one(unit.row_span(user), unit, f, n, user);
}

}  // namespace encore
