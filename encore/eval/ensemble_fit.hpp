#pragma once
// Fitting an ensemble's weights (encore/models/ensemble.hpp) on held-out plays: the members are trained
// on one part of the data, and a logistic regression learns from the other part which candidates a
// user goes on to play.
//   related    examples: for a sampled user u with held-out items, a few of u's training items i
//              (seeded draws); each candidate j of i (union of the members' related top-N) that u did
//              not play in training is one example, labelled 1 when u played j in the held-out part
//              ("plays i and j together"), features the members' z-scored similarities of (i, j).
//              The logistic weights are then refined by a coordinate search for the related-items hit
//              rate at related_k (encore/eval/metrics.hpp) of the sampled users' held-out plays, every
//              training item of theirs ranked (see docs/algorithms.md).
//   recommend  examples: for a sampled user u, each candidate j (union of the members' top-N
//              recommendations, training plays filtered), labelled 1 when j is among u's held-out
//              plays, features the members' z-scored user scores.
// Everything is deterministic for a seed (the draws are seeded, the regression sums in order).
#include <cstdint>
#include <string>
#include <vector>

#include "encore/data/dataset.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/kinds/family.hpp"
#include "encore/query/ensemble_queries.hpp"

namespace encore {

struct EnsembleFitOptions {
    int candidates = 50;          // each member's top-N per query
    double holdout_fraction = 0.2;  // fit_ensemble_on_split: share of the interactions held out
    std::uint64_t seed = 0;
    int max_users = 2000;         // users sampled for the examples
    int queries_per_user = 4;     // related: training items per sampled user used as query items
    int related_k = 10;           // related: the hit rate the weights are refined for (list length)
    LogisticOptions logistic;
    int threads = 0;
    Reporter* reporter = nullptr;  // progress; null = silent
};

// Fits both weight sets for members trained on some data, from heldout = the plays they did not see
// (users x items, same ids as the members). The members' user_items are their training plays.
// Throws Error when the held-out part yields no positive or no negative example.
Ensemble fit_ensemble(const EnsembleScorer& scorer, const Csr& heldout, const EnsembleFitOptions& options);

// Splits data (random_split with holdout_fraction and seed), trains every member on the larger part,
// and fits the weights with fit_ensemble. The members' options are given in full (default_model_options
// plus overrides). report, if given, receives each member's training report.
Ensemble fit_ensemble_on_split(const Dataset& data, const std::vector<ModelOptions>& members,
                               const EnsembleFitOptions& options, std::vector<TrainReport>* reports = nullptr);

}  // namespace encore
