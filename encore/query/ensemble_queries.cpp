#include "encore/query/ensemble_queries.hpp"

#include <algorithm>
#include <cmath>

#include "encore/kinds/registry.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

std::vector<ScoredItem> to_scored(const std::vector<Recommendation>& recs) {
    std::vector<ScoredItem> out;
    out.reserve(recs.size());
    for (const auto& r : recs) out.push_back({r.id, r.score});
    return out;
}

void check_query(const Ensemble& e, const EnsembleScorer& s, int n) {
    check_ensemble_models(e, s.models());
    if (n < 1) throw OptionError(fmt::format("-n must be at least 1, got {}", n));
}

// The member lists of one query, as pointers (what the candidate builders take).
std::vector<const std::vector<ScoredItem>*> lists_of(const std::vector<std::vector<std::vector<ScoredItem>>>& lists,
                                                     std::size_t query) {
    std::vector<const std::vector<ScoredItem>*> out;
    out.reserve(lists.size());
    for (const auto& member : lists) out.push_back(&member[query]);
    return out;
}

}  // namespace

EnsembleScorer::EnsembleScorer(std::vector<const Model*> models, int threads) : models_(std::move(models)) {
    check_same_items(models_);
    for (const Model* m : models_) {
        owned_.push_back(open_scorer(*m, threads));
        scorers_.push_back(owned_.back().get());
    }
}

EnsembleScorer::EnsembleScorer(std::vector<const Scorer*> scorers) : scorers_(std::move(scorers)) {
    for (const Scorer* s : scorers_) models_.push_back(&s->model());
    check_same_items(models_);
}

namespace {

// Every member's batch answer (one list per query row), as scored items.
template <typename Batch>
std::vector<std::vector<std::vector<ScoredItem>>> member_lists(const std::vector<const Scorer*>& scorers, Batch&& batch) {
    std::vector<std::vector<std::vector<ScoredItem>>> out;
    for (const Scorer* m : scorers) {
        auto recs = batch(*m);
        std::vector<std::vector<ScoredItem>> lists(recs.size());
        for (std::size_t i = 0; i < recs.size(); ++i) lists[i] = to_scored(recs[i]);
        out.push_back(std::move(lists));
    }
    return out;
}

}  // namespace

std::vector<std::vector<std::vector<ScoredItem>>> EnsembleScorer::related_lists(const ItemFilter& filter, int n,
                                                                                int threads, std::int64_t first,
                                                                                std::int64_t count) const {
    QueryOptions q;
    q.n = n;
    q.threads = threads;
    q.first = first;
    q.count = count;
    return member_lists(scorers_, [&](const Scorer& m) { return related_all(m, filter, q); });
}

std::vector<std::vector<std::vector<ScoredItem>>> EnsembleScorer::recommend_lists(const ItemFilter& filter, int n,
                                                                                  int threads, std::int64_t first,
                                                                                  std::int64_t count) const {
    QueryOptions q;
    q.n = n;
    q.threads = threads;
    q.filter_played = true;
    q.first = first;
    q.count = count;
    return member_lists(scorers_, [&](const Scorer& m) { return recommend_all(m, filter, q); });
}

std::vector<std::vector<std::vector<ScoredItem>>> EnsembleScorer::related_lists_for(std::span<const std::int32_t> items,
                                                                                    int n, int threads) const {
    for (auto i : items)
        if (i < 0 || i >= models_[0]->n_items()) fail("item index {} out of range", i);
    std::vector<std::vector<std::vector<ScoredItem>>> out;
    for (const Scorer* m : scorers_) out.push_back(m->related_for(items, n, threads));
    return out;
}

EnsembleCandidates EnsembleScorer::combine(std::span<const std::vector<ScoredItem>* const> lists,
                                           const std::function<double(int, std::int32_t)>& score) const {
    const int M = members();
    if (static_cast<int>(lists.size()) != M) fail("ensemble: {} candidate lists for {} members", lists.size(), M);
    struct Entry {
        std::int32_t item;
        int member;
        float score;
    };
    std::vector<Entry> entries;
    for (int m = 0; m < M; ++m)
        for (const auto& s : *lists[static_cast<std::size_t>(m)]) entries.push_back({s.id, m, s.score});
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.item < b.item || (a.item == b.item && a.member < b.member); });
    EnsembleCandidates c;
    c.members = M;
    for (const auto& e : entries)
        if (c.items.empty() || c.items.back() != e.item) c.items.push_back(e.item);
    const std::size_t n = c.items.size();
    // Raw scores: the member's own list score where it has one, else computed.
    std::vector<double> raw(n * static_cast<std::size_t>(M));
    std::vector<std::uint8_t> known(raw.size(), 0);
    for (std::size_t p = 0, k = 0; p < entries.size(); ++p) {
        while (c.items[k] != entries[p].item) ++k;
        const std::size_t at = k * static_cast<std::size_t>(M) + static_cast<std::size_t>(entries[p].member);
        raw[at] = entries[p].score;
        known[at] = 1;
    }
    for (std::size_t k = 0; k < n; ++k)
        for (int m = 0; m < M; ++m) {
            const std::size_t at = k * static_cast<std::size_t>(M) + static_cast<std::size_t>(m);
            if (!known[at]) raw[at] = score(m, c.items[k]);
        }
    // z-score per member over this candidate set.
    c.features.assign(raw.size(), 0.0);
    for (int m = 0; m < M; ++m) {
        double mean = 0;
        for (std::size_t k = 0; k < n; ++k) mean += raw[k * M + m];
        mean /= double(std::max<std::size_t>(n, 1));
        double var = 0;
        for (std::size_t k = 0; k < n; ++k) var += (raw[k * M + m] - mean) * (raw[k * M + m] - mean);
        const double sd = n > 0 ? std::sqrt(var / double(n)) : 0.0;
        if (!(sd > 0)) continue;  // a member that cannot tell the candidates apart adds nothing
        for (std::size_t k = 0; k < n; ++k) c.features[k * M + m] = (raw[k * M + m] - mean) / sd;
    }
    return c;
}

EnsembleCandidates EnsembleScorer::related_candidates(std::int32_t item,
                                                      std::span<const std::vector<ScoredItem>* const> lists) const {
    return combine(lists, [&](int m, std::int32_t j) { return scorer(m).similarity(item, j); });
}

EnsembleCandidates EnsembleScorer::recommend_candidates(std::int32_t user,
                                                        std::span<const std::vector<ScoredItem>* const> lists) const {
    std::vector<UserProfile> profiles;
    for (const Model* model : models_) profiles.push_back(known_user(*model, user));
    return combine(lists, [&](int m, std::int32_t j) { return scorer(m).score(profiles[static_cast<std::size_t>(m)], j); });
}

std::vector<Recommendation> rank_candidates(const EnsembleCandidates& c, const EnsembleWeights& w, int n) {
    if (w.weights.size() != static_cast<std::size_t>(c.members))
        fail("ensemble: {} weights for {} members", w.weights.size(), c.members);
    std::vector<std::pair<double, std::int32_t>> scored(c.items.size());
    for (std::size_t k = 0; k < c.items.size(); ++k) {
        double s = w.bias;
        for (int m = 0; m < c.members; ++m) s += w.weights[static_cast<std::size_t>(m)] * c.features[k * c.members + m];
        scored[k] = {s, c.items[k]};
    }
    const std::size_t keep = std::min(scored.size(), static_cast<std::size_t>(std::max(n, 0)));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<Recommendation> out;
    out.reserve(keep);
    for (std::size_t k = 0; k < keep; ++k) out.push_back({scored[k].second, static_cast<float>(scored[k].first), {}});
    return out;
}

std::vector<Recommendation> ensemble_related(const EnsembleScorer& s, const Ensemble& e, std::int32_t item,
                                             const ItemFilter& filter, const QueryOptions& options) {
    check_query(e, s, options.n);
    if (item < 0 || item >= s.model(0).n_items()) fail("item index {} out of range", item);
    QueryOptions q;
    q.n = e.candidates;
    q.threads = options.threads;
    std::vector<std::vector<ScoredItem>> lists;
    for (int m = 0; m < s.members(); ++m) lists.push_back(to_scored(related_items(s.scorer(m), item, filter, q)));
    std::vector<const std::vector<ScoredItem>*> ptrs;
    for (const auto& l : lists) ptrs.push_back(&l);
    return rank_candidates(s.related_candidates(item, ptrs), e.related, options.n);
}

std::vector<Recommendation> ensemble_recommend(const EnsembleScorer& s, const Ensemble& e, std::int32_t user,
                                               const ItemFilter& filter, const QueryOptions& options) {
    check_query(e, s, options.n);
    if (user < 0 || user >= s.model(0).n_users()) fail("user index {} out of range", user);
    QueryOptions q;
    q.n = e.candidates;
    q.threads = options.threads;
    q.filter_played = true;
    std::vector<std::vector<ScoredItem>> lists;
    for (int m = 0; m < s.members(); ++m) lists.push_back(to_scored(recommend_user(s.scorer(m), user, filter, q)));
    std::vector<const std::vector<ScoredItem>*> ptrs;
    for (const auto& l : lists) ptrs.push_back(&l);
    return rank_candidates(s.recommend_candidates(user, ptrs), e.recommend, options.n);
}

namespace {

template <typename Candidates>
std::vector<std::vector<Recommendation>> rank_all(const std::vector<std::vector<std::vector<ScoredItem>>>& lists,
                                                  const EnsembleWeights& w, const QueryOptions& options,
                                                  Candidates candidates) {
    // lists[m][q] answers query options.first + q
    const auto queries = static_cast<std::int64_t>(lists.empty() ? 0 : lists[0].size());
    std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(queries));
    const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (std::int64_t q = 0; q < queries; ++q) {
        const auto ptrs = lists_of(lists, static_cast<std::size_t>(q));
        out[static_cast<std::size_t>(q)] = rank_candidates(candidates(options.first + q, ptrs), w, options.n);
        if (options.progress) options.progress->add(1);
    }
    return out;
}

}  // namespace

std::vector<std::vector<Recommendation>> ensemble_related_all(const EnsembleScorer& s, const Ensemble& e,
                                                              const ItemFilter& filter, const QueryOptions& options) {
    check_query(e, s, options.n);
    const auto lists = s.related_lists(filter, e.candidates, options.threads, options.first, options.count);
    return rank_all(lists, e.related, options,
                    [&](std::int64_t i, const std::vector<const std::vector<ScoredItem>*>& p) {
                        return s.related_candidates(static_cast<std::int32_t>(i), p);
                    });
}

std::vector<std::vector<Recommendation>> ensemble_recommend_all(const EnsembleScorer& s, const Ensemble& e,
                                                                const ItemFilter& filter, const QueryOptions& options) {
    check_query(e, s, options.n);
    const auto lists = s.recommend_lists(filter, e.candidates, options.threads, options.first, options.count);
    return rank_all(lists, e.recommend, options,
                    [&](std::int64_t u, const std::vector<const std::vector<ScoredItem>*>& p) {
                        return s.recommend_candidates(static_cast<std::int32_t>(u), p);
                    });
}

}  // namespace encore
