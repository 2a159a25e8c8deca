#pragma once
// The queries a model answers: related items, recommendations for a user, for a new user folded in from
// a list of items, similar users, and explanations ("because you played X"), plus batch versions for
// every item / user, exactly or through an ANN index. Each comes in two forms:
//   on a Scorer  (encore/kinds/model_type.hpp: a model opened once, with everything that depends only
//                on the model prepared) — what the Recommender and every server path use;
//   on a Model   the same, opening the model's scorer for the one call (convenient, slower per query).
// The model's kind decides how it scores (the registry, encore/kinds/registry.hpp); nothing here
// branches on it.
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "encore/kinds/model_type.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/lookup.hpp"
#include "encore/retrieval/results.hpp"
#include "encore/retrieval/topk.hpp"

namespace encore {

class Progress;
class AnnIndex;
enum class AnnMetric : std::uint32_t;

struct QueryOptions {
    int n = 10;
    bool filter_played = true;  // recommend: drop items the user already played
    int explain = 0;            // > 0: that many contributing played items per result
    int threads = 0;
    Progress* progress = nullptr;
    bool low_precision = true;  // batch: bf16 candidate pass + exact re-rank (identical results; topk.hpp)
    const std::atomic<bool>* cancel = nullptr;  // batch: set to stop (throws Cancelled)
    // Batch over every item / user: only [first, first + count) (count -1: to the end); result k answers
    // first + k (see TopKOptions).
    std::int64_t first = 0;
    std::int64_t count = -1;
};

// ---- On a prepared scorer ------------------------------------------------------------------------

std::vector<Recommendation> related_items(const Scorer& scorer, std::int32_t item, const ItemFilter& filter,
                                          const QueryOptions& options);
std::vector<std::vector<Recommendation>> related_all(const Scorer& scorer, const ItemFilter& filter,
                                                     const QueryOptions& options);
std::vector<Recommendation> recommend_user(const Scorer& scorer, std::int32_t user, const ItemFilter& filter,
                                           const QueryOptions& options);
std::vector<std::vector<Recommendation>> recommend_all(const Scorer& scorer, const ItemFilter& filter,
                                                       const QueryOptions& options);
std::vector<Recommendation> recommend_new_user(const Scorer& scorer, std::span<const std::int32_t> items,
                                               std::span<const float> values, const ItemFilter& filter,
                                               const QueryOptions& options);
std::vector<Recommendation> similar_users(const Scorer& scorer, std::int32_t user, const QueryOptions& options);
std::vector<Contribution> explain(const Scorer& scorer, std::span<const std::int32_t> played,
                                  std::span<const float> conf, std::int32_t item, int n, float* total_score = nullptr);

// A new user's profile from played items and plays: sorted, duplicates summed, weighted with the
// model's weighting (empty values = each item at the mean confidence its training listeners had).
struct FoldedUser {
    std::vector<std::int32_t> items;
    std::vector<float> conf;
    UserProfile profile() const { return {items, conf, -1}; }
};
FoldedUser fold_in_user(const Model& model, std::span<const std::int32_t> items, std::span<const float> values);

// A known user's profile: the played items (each checked to be in range: a model opened without
// verification has not had them checked) with their confidences.
UserProfile known_user(const Model& model, std::int64_t user);

// Whether index can serve query ("related": a cosine index, "recommend": a dot index) for this model:
// built from these item factors (size and fingerprint: the checksum the model file records for its
// item factors, or a hash of every factor for a model not loaded from a file, so check once, not per
// query). Throws Error saying what to do otherwise.
void check_index(const Model& model, const AnnIndex& index, AnnMetric metric, const char* query);

// Through an index already checked with check_index (search = the index's effort; 0 = its default).
std::vector<Recommendation> related_items_index(const Scorer& scorer, const AnnIndex& index, std::int32_t item,
                                                const ItemFilter& filter, const QueryOptions& options, int search = 0);
std::vector<std::vector<Recommendation>> related_all_index(const Scorer& scorer, const AnnIndex& index,
                                                           const ItemFilter& filter, const QueryOptions& options,
                                                           int search = 0);
std::vector<Recommendation> recommend_user_index(const Scorer& scorer, const AnnIndex& index, std::int32_t user,
                                                 const ItemFilter& filter, const QueryOptions& options, int search = 0);
std::vector<std::vector<Recommendation>> recommend_all_index(const Scorer& scorer, const AnnIndex& index,
                                                             const ItemFilter& filter, const QueryOptions& options,
                                                             int search = 0);

// ---- On a model (opens its scorer for the call) ----------------------------------------------------

// Items most similar to item (cosine of item factors; knn: its neighbour list; popular: the most
// popular), the item itself excluded.
std::vector<Recommendation> related_items(const Model& model, std::int32_t item, const ItemFilter& filter,
                                          const QueryOptions& options);
// For every item.
std::vector<std::vector<Recommendation>> related_all(const Model& model, const ItemFilter& filter,
                                                     const QueryOptions& options);

// Dot-product recommendations for a known user.
std::vector<Recommendation> recommend_user(const Model& model, std::int32_t user, const ItemFilter& filter,
                                           const QueryOptions& options);
std::vector<std::vector<Recommendation>> recommend_all(const Model& model, const ItemFilter& filter,
                                                       const QueryOptions& options);

// A new user from played items (values = plays, weighted with the model's weighting; empty values =
// each item at the mean confidence its training listeners had), folded in by the model's kind against
// the item factors (no retraining), then recommended for.
std::vector<Recommendation> recommend_new_user(const Model& model, std::span<const std::int32_t> items,
                                               std::span<const float> values, const ItemFilter& filter,
                                               const QueryOptions& options);

// Users most similar to user (cosine of user factors), the user excluded.
std::vector<Recommendation> similar_users(const Model& model, std::int32_t user, const QueryOptions& options);

// implicit-style explanation: with W_u = (YtY + lambda I + sum (c-1) y y^T)^-1, the score of item i
// splits into sum over played j of c_uj * y_i^T W_u y_j. Returns the top n contributions (largest
// first) and, in total_score, their full sum (equals x_u . y_i when x_u is the exact solution).
std::vector<Contribution> explain(const Model& model, std::span<const std::int32_t> played,
                                  std::span<const float> conf, std::int32_t item, int n, float* total_score = nullptr);

// The same queries through an approximate index (retrieval/ann.hpp) instead of the exact scan. related
// needs a cosine index, recommend a dot index, built from this model's item factors (check_index; a
// mismatch is an Error). Results follow the exact path's rules: filters and played items still apply
// (the index is asked for more than n and the excluded items dropped), and every query returns exactly
// min(n, allowed items); when over-fetching twice does not reach that (a very narrow --only list), the
// query falls back to an exact scan of the index's vectors.
std::vector<Recommendation> related_items_index(const Model& model, const AnnIndex& index, std::int32_t item,
                                                const ItemFilter& filter, const QueryOptions& options, int search = 0);
std::vector<std::vector<Recommendation>> related_all_index(const Model& model, const AnnIndex& index,
                                                           const ItemFilter& filter, const QueryOptions& options,
                                                           int search = 0);
std::vector<Recommendation> recommend_user_index(const Model& model, const AnnIndex& index, std::int32_t user,
                                                 const ItemFilter& filter, const QueryOptions& options, int search = 0);
std::vector<std::vector<Recommendation>> recommend_all_index(const Model& model, const AnnIndex& index,
                                                             const ItemFilter& filter, const QueryOptions& options,
                                                             int search = 0);

}  // namespace encore
