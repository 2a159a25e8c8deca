#pragma once
// Ranking metrics at k with the definitions of implicit's ranking_metrics_at_k (docs/algorithms.md):
// over every user with at least one test item,
//   precision@k = sum hits / sum min(k, |test_u|)
//   MAP@k       = mean over users of (sum_{hit at rank r} hits_so_far / r) / min(k, |test_u|)
//   NDCG@k      = mean over users of DCG / IDCG, gains 1/log2(rank + 1), IDCG over min(k, |test_u|)
//   AUC         = mean over users of the AUC of the top-k list, items below the list counted as ties
#include <cstdint>
#include <vector>

#include "encore/data/csr.hpp"
#include "encore/retrieval/topk.hpp"

namespace encore {

struct RankingMetrics {
    int k = 10;
    double precision = 0, map = 0, ndcg = 0, auc = 0;
    std::int64_t users = 0;  // users evaluated (with test items)
};

// recommendations[u] = user u's ranked list (train items already filtered), test = held-out items by user.
RankingMetrics ranking_metrics_at_k(const std::vector<std::vector<ScoredItem>>& recommendations, const Csr& test,
                                    int k);

}  // namespace encore
