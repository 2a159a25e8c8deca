#pragma once
// Queries of an item-item (knn) model, scored from its stored neighbour lists instead of factors:
// a user's score for item i is sum over played j of c_uj * s_ji (implicit's ItemItemRecommender), and
// an item's related items are its neighbour list. Only items reached through some neighbour list get
// a score, so a list may be shorter than n. Ties: lower item index first.
#include <cstdint>
#include <span>
#include <vector>

#include "encore/models/model.hpp"
#include "encore/retrieval/results.hpp"

namespace encore {

// played sorted ascending, conf one confidence per played item. allowed: per item (empty = all).
// explain > 0: that many played items behind each result (their c_uj * s_ji, largest first).
std::vector<Recommendation> knn_recommend(const Model& model, std::span<const std::int32_t> played,
                                          std::span<const float> conf, std::span<const std::uint8_t> allowed,
                                          bool filter_played, int n, int explain);

std::vector<Recommendation> knn_related(const Model& model, std::int32_t item, std::span<const std::uint8_t> allowed,
                                        int n);

// The score of item for a user who played `played` with confidences conf, split by played item.
std::vector<Contribution> knn_explain(const Model& model, std::span<const std::int32_t> played,
                                      std::span<const float> conf, std::int32_t item, int n, float* total_score);

}  // namespace encore
