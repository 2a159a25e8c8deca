#pragma once
// The Scorer of a factor model (score = x_u . y_i; related = cosine of item factors), shared by the
// factor kinds. A kind says how it folds in a new user and how it explains a score (FactorRules);
// everything else is the same for all of them.
#include <memory>
#include <mutex>
#include <vector>

#include "encore/kernels/half_scan.hpp"
#include "encore/kinds/model_type.hpp"

namespace encore {

struct FactorRules {
    // How a new user's vector comes from their played items:
    //   least_squares  ALS's exact solve with the model's lambda (bpr and lmf have no closed form for a
    //                  new user, so the same fit against their item factors stands in)
    //   projection     LSA: x = (YtY)^-1 sum c_j y_j, exactly how training computed user factors
    //   constant       every user is [1] (popular)
    enum class FoldIn { least_squares, projection, constant } fold_in = FoldIn::least_squares;
    // How a score splits over the played items:
    //   weighted_gram  ALS, exact: implicit's W_u = YtY + lambda I + sum (|c| - 1) y y^T split
    //   gram           LSA, exact: the share of j is c_uj y_i^T (YtY)^-1 y_j
    //   similarity     bpr, lmf: the user vector is learned, not a function of the plays; the played
    //                  items most like the result (cosine of item factors) are named, with that cosine
    //   none           nothing to explain (popular)
    enum class Explain { weighted_gram, gram, similarity, none } explain = Explain::weighted_gram;
};

class FactorScorer : public Scorer {
public:
    FactorScorer(const Model& model, FactorRules rules, int threads);
    const Model& model() const override { return model_; }

    std::vector<ScoredItem> related(std::int32_t item, std::span<const std::uint8_t> allowed, int n) const override;
    std::vector<std::vector<ScoredItem>> related_all(std::span<const std::uint8_t> allowed,
                                                     const TopKOptions& options) const override;
    std::vector<std::vector<ScoredItem>> related_for(std::span<const std::int32_t> items, int n,
                                                     int threads) const override;
    double similarity(std::int32_t item, std::int32_t other) const override;

    std::vector<ScoredItem> recommend(const UserProfile& user, std::span<const std::uint8_t> allowed, bool filter_played,
                                      int n) const override;
    std::vector<std::vector<ScoredItem>> recommend_all(std::span<const std::uint8_t> allowed, bool filter_played,
                                                       const TopKOptions& options) const override;
    double score(const UserProfile& user, std::int32_t item) const override;
    std::unique_ptr<UserExplainer> explainer(const UserProfile& user) const override;
    std::vector<ScoredItem> similar_users(std::int32_t user, int n) const override;
    const Matrix* index_vectors() const override { return &model_.item_factors; }
    std::vector<float> user_vector(const UserProfile& user) const override;

    // Unit-length item / user factors and the fold-in Gram matrix, computed on first use (once, thread-safe).
    const Matrix& unit_items() const;
    const Matrix& unit_users() const;
    const std::vector<float>& gram() const;
    // Half-precision copies of unit_items() and of the item factors for single queries (related,
    // recommend: top_k_one scans them for candidates, same results), made on first use (once,
    // thread-safe); null where they do not pay (few items, no F16C kernel) or values are out of the
    // half range.
    const kernels::HalfRows* half_unit_items() const;
    const kernels::HalfRows* half_items() const;

private:
    const Model& model_;
    FactorRules rules_;
    int threads_;
    mutable std::once_flag items_once_, users_once_, gram_once_, half_unit_once_, half_items_once_;
    mutable Matrix unit_items_, unit_users_;
    mutable std::vector<float> gram_;
    mutable std::unique_ptr<kernels::HalfRows> half_unit_items_, half_items_;
};

}  // namespace encore
