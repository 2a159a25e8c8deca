#include "encore/eval/ensemble_fit.hpp"

#include <algorithm>
#include <cmath>

#include "encore/eval/split.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

// splitmix64: the seeded draws (the same sequence on every platform, unlike std distributions).
struct Draws {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// The first k of a seeded shuffle of v (partial Fisher-Yates).
template <typename T>
void sample_prefix(std::vector<T>& v, std::size_t k, Draws& d) {
    k = std::min(k, v.size());
    for (std::size_t a = 0; a < k; ++a) std::swap(v[a], v[a + d.below(v.size() - a)]);
    v.resize(k);
}

struct Examples {
    std::vector<double> features;
    std::vector<std::uint8_t> labels;
};

// Candidates of one query as examples: those in `skip` (sorted) are left out, label = in `positive`.
void add_examples(const EnsembleCandidates& c, std::span<const std::int32_t> skip, std::span<const std::int32_t> positive,
                  Examples& out) {
    for (std::size_t k = 0; k < c.items.size(); ++k) {
        const auto j = c.items[k];
        if (std::binary_search(skip.begin(), skip.end(), j)) continue;
        out.labels.push_back(std::binary_search(positive.begin(), positive.end(), j) ? 1 : 0);
        out.features.insert(out.features.end(), c.features.begin() + static_cast<std::ptrdiff_t>(k * c.members),
                            c.features.begin() + static_cast<std::ptrdiff_t>((k + 1) * c.members));
    }
}

EnsembleWeights fit_weights(const Examples& ex, int members, const LogisticOptions& o, const char* what,
                            nlohmann::json& report) {
    std::int64_t pos = 0;
    for (auto l : ex.labels) pos += l;
    if (pos == 0 || pos == static_cast<std::int64_t>(ex.labels.size()))
        fail("ensemble fit ({}): {} examples, {} positive: the held-out part gives nothing to learn from", what,
             ex.labels.size(), pos);
    auto fit = fit_logistic(ex.features, ex.labels, members, o);
    report = {{"examples", ex.labels.size()}, {"positives", pos}, {"log_loss", fit.log_loss},
              {"iterations", fit.iterations}};
    return fit.weights;
}

// Related-items hit rate at k (encore/eval/metrics.hpp) of the sampled users' held-out plays, with every
// training item of theirs ranked by weights w from its candidates.
double sampled_hit_rate(const EnsembleWeights& w, const std::vector<EnsembleCandidates>& cands,
                        const std::vector<std::int32_t>& items, const std::vector<std::int32_t>& users, const Csr& train,
                        const Csr& heldout, int k, int threads) {
    std::vector<std::vector<Recommendation>> top(items.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (std::size_t q = 0; q < items.size(); ++q) top[q] = rank_candidates(cands[q], w, k);
    std::vector<std::uint8_t> reached(static_cast<std::size_t>(train.cols), 0);
    std::vector<std::int32_t> touched;
    std::int64_t hits = 0, pairs = 0;
    for (auto u : users) {
        for (auto i : train.row_indices(u)) {
            const auto q = static_cast<std::size_t>(std::lower_bound(items.begin(), items.end(), i) - items.begin());
            for (const auto& r : top[q])
                if (!reached[r.id]) reached[r.id] = 1, touched.push_back(r.id);
        }
        for (auto j : heldout.row_indices(u)) hits += reached[j];
        pairs += static_cast<std::int64_t>(heldout.row_indices(u).size());
        for (auto j : touched) reached[j] = 0;
        touched.clear();
    }
    return pairs > 0 ? double(hits) / double(pairs) : 0.0;
}

// The logistic weights predict each (item, candidate) pair on its own, which favours candidates that are
// co-played with everything (popular ones); a user's related lists then repeat each other. Starting from
// them, a coordinate search scales one weight at a time (x0, 0.5, 0.8, 1.25, 2) and keeps a change only
// when the sampled hit rate strictly improves (at most 4 rounds): the weights end tuned to the metric the
// lists are judged by, with the logistic solution as the fallback.
void refine_for_hit_rate(EnsembleWeights& w, const std::vector<EnsembleCandidates>& cands,
                         const std::vector<std::int32_t>& items, const std::vector<std::int32_t>& users,
                         const Csr& train, const Csr& heldout, int k, int threads, nlohmann::json& report) {
    double best = sampled_hit_rate(w, cands, items, users, train, heldout, k, threads);
    report["logistic_weights"] = w.weights;
    report["logistic_hit_rate"] = best;
    double scale = 0;
    for (double v : w.weights) scale = std::max(scale, std::abs(v));
    if (scale == 0) scale = 1;
    int evaluations = 1;
    for (int round = 0; round < 4; ++round) {
        bool improved = false;
        for (std::size_t m = 0; m < w.weights.size(); ++m)
            for (double f : {0.0, 0.5, 0.8, 1.25, 2.0}) {
                EnsembleWeights trial = w;
                if (w.weights[m] == 0) {
                    if (f == 0) continue;
                    trial.weights[m] = f * 0.25 * scale;  // bring back a dropped member
                } else {
                    trial.weights[m] *= f;
                }
                const double h = sampled_hit_rate(trial, cands, items, users, train, heldout, k, threads);
                ++evaluations;
                if (h > best + 1e-12) best = h, w = trial, improved = true;
            }
        if (!improved) break;
    }
    report["hit_rate"] = best;
    report["hit_rate_k"] = k;
    report["search_evaluations"] = evaluations;
}

}  // namespace

Ensemble fit_ensemble(const EnsembleScorer& scorer, const Csr& heldout, const EnsembleFitOptions& o) {
    if (o.candidates < 1) throw OptionError(fmt::format("ensemble: candidates must be at least 1, got {}", o.candidates));
    if (o.max_users < 1) throw OptionError(fmt::format("ensemble: max users must be at least 1, got {}", o.max_users));
    if (o.queries_per_user < 1)
        throw OptionError(fmt::format("ensemble: queries per user must be at least 1, got {}", o.queries_per_user));
    const Model& first = scorer.model(0);
    const Csr& train = first.user_items;
    if (heldout.rows != train.rows || heldout.cols != first.n_items())
        fail("ensemble fit: held-out matrix is {} x {}, the models have {} users and {} items", heldout.rows,
             heldout.cols, train.rows, first.n_items());
    const int M = scorer.members();
    const int threads = resolve_threads(o.threads);

    // Users with something held out and something to query with, a seeded sample of them.
    std::vector<std::int32_t> users;
    for (std::int64_t u = 0; u < heldout.rows; ++u)
        if (heldout.indptr[u + 1] > heldout.indptr[u] && train.indptr[u + 1] > train.indptr[u])
            users.push_back(static_cast<std::int32_t>(u));
    Draws draws{o.seed ^ 0x656e73656d626c65ULL};
    sample_prefix(users, static_cast<std::size_t>(o.max_users), draws);
    std::sort(users.begin(), users.end());

    // Related: every training item of the sampled users gets its candidates (the hit-rate refinement
    // ranks them all); the logistic examples come from a few query items drawn per user.
    std::vector<std::int32_t> items;
    for (auto u : users)
        for (auto i : train.row_indices(u)) items.push_back(i);
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    std::vector<std::int32_t> query_user, query_item;
    for (auto u : users) {
        auto row = train.row_indices(u);
        std::vector<std::int32_t> drawn(row.begin(), row.end());
        sample_prefix(drawn, static_cast<std::size_t>(o.queries_per_user), draws);
        for (auto i : drawn) query_user.push_back(u), query_item.push_back(i);
    }
    auto index_of = [&items](std::int32_t i) {
        return static_cast<std::size_t>(std::lower_bound(items.begin(), items.end(), i) - items.begin());
    };
    Progress progress("ensemble fit", static_cast<double>(items.size() + users.size()), o.reporter, "queries");
    Examples related, recommend;
    std::vector<EnsembleCandidates> related_cands(items.size());
    {
        const auto lists = scorer.related_lists_for(items, o.candidates, threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
        for (std::size_t q = 0; q < items.size(); ++q) {
            std::vector<const std::vector<ScoredItem>*> ptrs;
            for (const auto& member : lists) ptrs.push_back(&member[q]);
            related_cands[q] = scorer.related_candidates(items[q], ptrs);
            progress.add(1);
        }
        for (std::size_t q = 0; q < query_item.size(); ++q)  // in query order: the same for any thread count
            add_examples(related_cands[index_of(query_item[q])], train.row_indices(query_user[q]),
                         heldout.row_indices(query_user[q]), related);
    }
    {
        const auto lists = scorer.recommend_lists(ItemFilter{}, o.candidates, threads);
        std::vector<Examples> per(users.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
        for (std::size_t k = 0; k < users.size(); ++k) {
            std::vector<const std::vector<ScoredItem>*> ptrs;
            for (const auto& member : lists) ptrs.push_back(&member[static_cast<std::size_t>(users[k])]);
            add_examples(scorer.recommend_candidates(users[k], ptrs), train.row_indices(users[k]),
                         heldout.row_indices(users[k]), per[k]);
            progress.add(1);
        }
        for (auto& e : per) {
            recommend.features.insert(recommend.features.end(), e.features.begin(), e.features.end());
            recommend.labels.insert(recommend.labels.end(), e.labels.begin(), e.labels.end());
        }
    }
    progress.finish();

    Ensemble e;
    e.n_items = first.n_items();
    e.candidates = o.candidates;
    for (int m = 0; m < M; ++m) e.members.push_back({scorer.model(m).kind, items_fingerprint(scorer.model(m).items)});
    nlohmann::json related_report, recommend_report;
    e.related = fit_weights(related, M, o.logistic, "related", related_report);
    refine_for_hit_rate(e.related, related_cands, items, users, train, heldout, o.related_k, threads, related_report);
    e.recommend = fit_weights(recommend, M, o.logistic, "recommend", recommend_report);
    e.info = {{"fit",
               {{"users", users.size()},
                {"queries_per_user", o.queries_per_user},
                {"seed", o.seed},
                {"l2", o.logistic.l2},
                {"related", related_report},
                {"recommend", recommend_report}}}};
    return e;
}

Ensemble fit_ensemble_on_split(const Dataset& data, const std::vector<ModelOptions>& members,
                               const EnsembleFitOptions& o, std::vector<TrainReport>* reports) {
    if (members.empty()) throw OptionError("ensemble: give at least one model");
    auto split = random_split(data.by_user, o.holdout_fraction, o.seed, o.threads);
    Dataset train = data;
    train.by_user = split.train;
    train.by_item = split.train.transpose(o.threads);
    std::vector<Model> models;
    nlohmann::json options = nlohmann::json::array();
    for (const auto& mo : members) {
        TrainReport r;
        models.push_back(train_model(train, mo, "ensemble fit split", &r));
        options.push_back(model_options_json(mo));
        if (reports) reports->push_back(r);
    }
    std::vector<const Model*> ptrs;
    for (const auto& m : models) ptrs.push_back(&m);
    EnsembleScorer scorer(ptrs);
    auto e = fit_ensemble(scorer, split.test, o);
    e.info["fit"]["holdout_fraction"] = o.holdout_fraction;
    e.info["members"] = options;
    return e;
}

}  // namespace encore
