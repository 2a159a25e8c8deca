#include "encore/eval/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

struct UserScore {
    double hits = 0, denominator = 0, ap = 0, ndcg = 0, auc = 0;
    bool evaluated = false;
};

}  // namespace

RankingMetrics ranking_metrics_at_k(const std::vector<std::vector<ScoredItem>>& recommendations, const Csr& test,
                                    int k, int threads) {
    if (k < 1) throw OptionError(fmt::format("-k: must be at least 1, got {}", k));
    if (static_cast<std::int64_t>(recommendations.size()) != test.rows)
        fail("ranking metrics: {} recommendation lists for {} test users", recommendations.size(), test.rows);
    threads = resolve_threads(threads);

    // cumulative gains: idcg[m] = sum_{i < m} 1 / log2(i + 2)
    std::vector<double> gain(static_cast<std::size_t>(k)), idcg(static_cast<std::size_t>(k) + 1, 0.0);
    for (int i = 0; i < k; ++i) {
        gain[static_cast<std::size_t>(i)] = 1.0 / std::log2(i + 2.0);
        idcg[static_cast<std::size_t>(i) + 1] = idcg[static_cast<std::size_t>(i)] + gain[static_cast<std::size_t>(i)];
    }

    // Per-user scores first, summed in user order afterwards, so the result does not depend on threads.
    std::vector<UserScore> per_user(static_cast<std::size_t>(test.rows));
    const auto n_items = static_cast<double>(test.cols);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
    for (std::int64_t u = 0; u < test.rows; ++u) {
        auto likes = test.row_indices(u);  // sorted: membership by binary search
        if (likes.empty()) continue;
        const auto& list = recommendations[static_cast<std::size_t>(u)];
        const std::size_t n = std::min(list.size(), static_cast<std::size_t>(k));
        const auto m = std::min<std::size_t>(static_cast<std::size_t>(k), likes.size());
        const auto num_pos = static_cast<double>(likes.size());
        const double num_neg = n_items - num_pos;
        double hit = 0, miss = 0, ap = 0, dcg = 0, auc = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (std::binary_search(likes.begin(), likes.end(), list[i].id)) {
                hit += 1;
                ap += hit / static_cast<double>(i + 1);
                dcg += gain[i];
            } else {
                miss += 1;
                auc += hit;
            }
        }
        auc += ((hit + num_pos) / 2.0) * (num_neg - miss);
        UserScore& s = per_user[static_cast<std::size_t>(u)];
        s.evaluated = true;
        s.hits = hit;
        s.denominator = static_cast<double>(m);
        s.ap = ap / static_cast<double>(m);
        s.ndcg = dcg / idcg[m];
        s.auc = num_neg > 0 ? auc / (num_pos * num_neg) : 1.0;
    }

    RankingMetrics out;
    out.k = k;
    double hits = 0, denominator = 0;
    for (const UserScore& s : per_user) {
        if (!s.evaluated) continue;
        ++out.users;
        hits += s.hits;
        denominator += s.denominator;
        out.map += s.ap;
        out.ndcg += s.ndcg;
        out.auc += s.auc;
    }
    if (out.users > 0) {
        const auto users = static_cast<double>(out.users);
        out.precision = hits / denominator;
        out.map /= users;
        out.ndcg /= users;
        out.auc /= users;
    }
    return out;
}

RelatedHitRate related_hit_rate_at_k(const std::vector<std::vector<ScoredItem>>& related, const Csr& train,
                                     const Csr& test, int k, int threads) {
    if (k < 1) throw OptionError(fmt::format("-k: must be at least 1, got {}", k));
    if (train.rows != test.rows || train.cols != test.cols)
        fail("related hit rate: train is {} x {}, test {} x {}", train.rows, train.cols, test.rows, test.cols);
    if (static_cast<std::int64_t>(related.size()) != train.cols)
        fail("related hit rate: {} related lists for {} items", related.size(), train.cols);
    for (const auto& list : related)
        for (const auto& s : list)
            if (s.id < 0 || s.id >= train.cols) fail("related hit rate: item {} out of range", s.id);
    const int nt = resolve_threads(threads);
    std::int64_t hits = 0, pairs = 0, users = 0;
#pragma omp parallel num_threads(nt) reduction(+ : hits, pairs, users)
    {
        std::vector<std::uint8_t> reached(static_cast<std::size_t>(train.cols), 0);
        std::vector<std::int32_t> touched;
#pragma omp for schedule(dynamic, 64)
        for (std::int64_t u = 0; u < test.rows; ++u) {
            const auto held = test.row_indices(u);
            const auto played = train.row_indices(u);
            if (held.empty() || played.empty()) continue;
            for (auto i : played) {
                const auto& list = related[static_cast<std::size_t>(i)];
                const std::size_t top = std::min(list.size(), static_cast<std::size_t>(k));
                for (std::size_t r = 0; r < top; ++r) {
                    const auto j = list[r].id;
                    if (!reached[j]) reached[j] = 1, touched.push_back(j);
                }
            }
            for (auto j : held) hits += reached[j];
            pairs += static_cast<std::int64_t>(held.size());
            users += 1;
            for (auto j : touched) reached[j] = 0;
            touched.clear();
        }
    }
    RelatedHitRate r;
    r.k = k;
    r.hits = hits;
    r.pairs = pairs;
    r.users = users;
    r.hit_rate = pairs > 0 ? double(hits) / double(pairs) : 0.0;
    return r;
}

}  // namespace encore
