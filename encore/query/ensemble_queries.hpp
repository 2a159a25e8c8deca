#pragma once
// Queries of an ensemble (encore/models/ensemble.hpp) of models over the same items:
//   related items of i   candidates = union of every member's related top-N of i (N = ensemble.candidates);
//                        member m scores candidate j by its own similarity: cosine of item factors
//                        (als, lsa, bpr, lmf), its stored s_ij (knn, 0 when j is not among i's
//                        neighbours), the number of listeners of j (popular)
//   recommend for u      candidates = union of every member's top-N recommendations of u (played items
//                        filtered); member m scores candidate j with its user score (x_u . y_j, knn: sum
//                        over played of c_u s_ji, popular: listeners of j)
// Each member's scores are z-scored over the query's candidate set ((s - mean) / standard deviation; all
// 0 when the member scores every candidate alike), and a candidate's ensemble score is
// bias + sum_m w_m z_m (the fitted logit). Ties: lower item index first. A member's score of a candidate
// from its own list is the score that list carries, so a one-member ensemble ranks exactly as its model.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "encore/models/ensemble.hpp"
#include "encore/query/queries.hpp"

namespace encore {

// One query's candidates with every member's normalised score: features is items.size() x members,
// row-major.
struct EnsembleCandidates {
    std::vector<std::int32_t> items;  // ascending
    std::vector<double> features;
    int members = 0;
};

// The members of an ensemble, each opened for queries (its Scorer). Checks that the models share their
// items (check_same_items).
class EnsembleScorer {
public:
    explicit EnsembleScorer(std::vector<const Model*> models, int threads = 0);
    // Over members already opened (they must outlive this; models() then lists their models).
    explicit EnsembleScorer(std::vector<const Scorer*> scorers);
    const Scorer& scorer(int m) const { return *scorers_[static_cast<std::size_t>(m)]; }
    int members() const { return static_cast<int>(models_.size()); }
    const Model& model(int m) const { return *models_[static_cast<std::size_t>(m)]; }
    std::span<const Model* const> models() const { return models_; }

    // Every member's related top-N for every item / recommendations for every user (lists[m][query]);
    // first/count narrow it to those queries (lists[m][k] answers first + k).
    std::vector<std::vector<std::vector<ScoredItem>>> related_lists(const ItemFilter& filter, int n, int threads,
                                                                    std::int64_t first = 0,
                                                                    std::int64_t count = -1) const;
    std::vector<std::vector<std::vector<ScoredItem>>> recommend_lists(const ItemFilter& filter, int n, int threads,
                                                                      std::int64_t first = 0,
                                                                      std::int64_t count = -1) const;
    // Every member's related top-N (no filter) for the given items only (lists[m][k] for items[k]): what
    // fitting needs for a sample of query items, without scoring every item.
    std::vector<std::vector<std::vector<ScoredItem>>> related_lists_for(std::span<const std::int32_t> items, int n,
                                                                        int threads) const;

    // The candidates of one query from the members' lists for it (lists[m] = member m's list).
    EnsembleCandidates related_candidates(std::int32_t item, std::span<const std::vector<ScoredItem>* const> lists) const;
    EnsembleCandidates recommend_candidates(std::int32_t user,
                                            std::span<const std::vector<ScoredItem>* const> lists) const;

private:
    EnsembleCandidates combine(std::span<const std::vector<ScoredItem>* const> lists,
                               const std::function<double(int member, std::int32_t item)>& score) const;
    std::vector<const Model*> models_;
    std::vector<std::unique_ptr<Scorer>> owned_;  // the members this opened itself
    std::vector<const Scorer*> scorers_;
};

// Ranks candidates by the weights: the best n, best first, score = bias + w . z.
std::vector<Recommendation> rank_candidates(const EnsembleCandidates& c, const EnsembleWeights& w, int n);

// Related items of one item / of every item, and recommendations for one user / every user, by the
// ensemble (check_ensemble_models first). options.n results; filters apply to every member's list;
// explanations are not available (options.explain is ignored).
std::vector<Recommendation> ensemble_related(const EnsembleScorer& scorer, const Ensemble& ensemble, std::int32_t item,
                                             const ItemFilter& filter, const QueryOptions& options);
std::vector<std::vector<Recommendation>> ensemble_related_all(const EnsembleScorer& scorer, const Ensemble& ensemble,
                                                              const ItemFilter& filter, const QueryOptions& options);
std::vector<Recommendation> ensemble_recommend(const EnsembleScorer& scorer, const Ensemble& ensemble,
                                               std::int32_t user, const ItemFilter& filter, const QueryOptions& options);
std::vector<std::vector<Recommendation>> ensemble_recommend_all(const EnsembleScorer& scorer,
                                                                const Ensemble& ensemble, const ItemFilter& filter,
                                                                const QueryOptions& options);

}  // namespace encore
