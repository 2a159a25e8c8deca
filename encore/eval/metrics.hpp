#pragma once
// Ranking metrics at k with exactly the definitions of implicit's ranking_metrics_at_k
// (implicit/evaluation.pyx), so numbers can be compared with it. Over every user u with at least one
// test item, with ids = the first k recommendations of u and hits at 0-based ranks i where ids[i] is a
// test item of u, and m = min(k, |test_u|):
//   precision@k = (sum over users of hits) / (sum over users of m)          (pooled, not a mean)
//   MAP@k       = mean of (sum over hits of hits_so_far / (i + 1)) / m
//   NDCG@k      = mean of DCG / IDCG, gain 1 / log2(i + 2), IDCG over the first m ranks
//   AUC         = mean of the AUC of the list against all test.cols items, the items below the list
//                 counted as ties: (sum over misses of hits before it + (hits + |test_u|) / 2 *
//                 (negatives - misses)) / (|test_u| * negatives), negatives = test.cols - |test_u|.
//                 A user whose test items are every item has no negatives; implicit divides by zero
//                 there, we count the ranking as perfect (AUC 1).
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

// recommendations[u] = user u's ranked list, best first (train items already filtered; only the first
// k entries are used, a shorter list is fine); test = held-out items by user. recommendations must have
// test.rows entries (those of users without test items are ignored and may be empty). Throws
// OptionError for k < 1 and Error for a size mismatch. Deterministic for any thread count (0 = all).
RankingMetrics ranking_metrics_at_k(const std::vector<std::vector<ScoredItem>>& recommendations, const Csr& test,
                                    int k, int threads = 0);

// Related-items hit rate at k (how well related lists predict held-out co-listening): over every
// user u with at least one training item and one held-out item, and every held-out item j of u, a hit
// when j is among the first k related items of at least one of u's training items;
// hit_rate = hits / pairs (pooled over all (u, j) pairs). related[i] = item i's ranked list (related.size()
// = train.cols); train and test are users x items. Throws OptionError for k < 1 and Error for a size
// mismatch. Deterministic for any thread count.
struct RelatedHitRate {
    int k = 10;
    double hit_rate = 0;
    std::int64_t hits = 0, pairs = 0, users = 0;
};
RelatedHitRate related_hit_rate_at_k(const std::vector<std::vector<ScoredItem>>& related, const Csr& train,
                                     const Csr& test, int k, int threads = 0);

}  // namespace encore
