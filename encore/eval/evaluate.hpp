#pragma once
// Offline evaluation as one call (what `encore eval` and `encore ensemble` run; every front end gets the
// same numbers and the same JSON):
//   evaluate                 seeded random split of the interactions (split.hpp), every model trained on
//                            the training part, ranking metrics at k on the held-out part (metrics.hpp),
//                            optionally the related-items hit rate, and optionally the ensemble of the
//                            models: weights fitted on a split of the training part only (the test part
//                            stays unseen), applied to the models trained on the whole training part.
//   fit_ensemble_on_holdout  ensemble weights fitted on a holdout of all the data (ensemble_fit.hpp),
//                            optionally with every member trained on all the data, ready to save.
// Each model's training time and peak memory (util/memory.hpp: resident high-water mark above the
// resident set before it) are reported beside its metrics.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/data/dataset.hpp"
#include "encore/eval/ensemble_fit.hpp"
#include "encore/eval/metrics.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

// Model names from a comma-separated list ("als, bpr,knn": blanks and empty entries ignored), in order.
std::vector<std::string> split_model_names(std::string_view list);

// The models an evaluation compares: single kinds in order, and whether their ensemble is wanted.
struct EvalModels {
    std::vector<ModelKind> kinds;
    bool ensemble = false;
};
// Names as `eval --models` takes them: the kinds, and "ensemble" for the ensemble of the others.
// Throws OptionError for an unknown name, no name, or "ensemble" without another model.
EvalModels parse_eval_models(const std::vector<std::string>& names);

struct EvalRequest {
    std::vector<ModelOptions> models;  // the single models, in report order (kind and options each)
    bool ensemble = false;             // also evaluate the ensemble of `models`
    // The ensemble's fit (candidates, sampled users, ...); its seed, threads and reporter are the request's.
    EnsembleFitOptions ensemble_fit;
    double test_fraction = 0.2;  // share of interactions held out, in (0, 1)
    std::uint64_t seed = 0;      // the split's (and the ensemble fit's) seed
    int k = 10;                  // metrics cut-off, >= 1
    bool related_hits = false;   // also the related-items hit rate at k
    int threads = 0;             // 0 = all cores
    Reporter* reporter = nullptr;  // progress and status lines (encore/util/progress.hpp); null = silent
};

// Throws OptionError for a request evaluate would refuse (no model, k < 1, test_fraction outside (0, 1),
// bad ensemble fit options), so a front end can check before loading data.
void check_eval_request(const EvalRequest& request);

struct EvalRow {
    std::string name;  // the model kind, or "ensemble"
    RankingMetrics metrics;
    RelatedHitRate related;      // when the request asked for related_hits
    double train_seconds = 0;    // the ensemble's: its members' and its fit's
    double train_peak_mb = -1;   // peak resident MB above the resident set before training; -1 = n/a
    bool has_weights = false;    // the ensemble row: its fitted weights
    Ensemble weights;
};

struct EvalReport {
    int k = 10;
    double test_fraction = 0.2;
    std::uint64_t seed = 0;
    bool related_hits = false;
    std::int64_t train_interactions = 0, test_interactions = 0;  // the split's sizes
    std::vector<EvalRow> rows;  // the request's models in order, then the ensemble

    // What `encore eval --json` prints: with one_model the flat object of `--model` (the first row's
    // metrics with model, test_fraction and seed), else {"models": {name: metrics}, k, test_fraction, seed}.
    nlohmann::json to_json(bool one_model = false) const;
    nlohmann::json row_json(const EvalRow& row) const;
};

// Throws OptionError for a bad request (check_eval_request) and Error from training or fitting.
EvalReport evaluate(const Dataset& data, const EvalRequest& request);

// `encore ensemble`: weights fitted on a holdout of data, and optionally the members trained on all of it.
struct EnsembleRequest {
    std::vector<ModelOptions> models;  // the members, in the order queries will be given them
    EnsembleFitOptions fit;            // holdout_fraction, seed, candidates, threads, reporter, ...
    bool train_on_all = false;  // also train every member on all the data (EnsembleFitReport::models)
    std::string source;         // provenance recorded in the ensemble's info and the models'
};

// Throws OptionError for a request fit_ensemble_on_holdout would refuse (holdout_fraction outside
// (0, 1), no member, bad fit options).
void check_ensemble_request(const EnsembleRequest& request);

struct EnsembleFitReport {
    Ensemble ensemble;          // info["data"] records the source and the data's shape
    std::vector<Model> models;  // with train_on_all: the members trained on all the data, in order
    // The ensemble as `encore ensemble --json` prints it (members, candidates, both weight sets, info).
    nlohmann::json to_json() const;
};

// Throws OptionError for a bad request (check_ensemble_request), Error from training or fitting.
EnsembleFitReport fit_ensemble_on_holdout(const Dataset& data, const EnsembleRequest& request);

}  // namespace encore
