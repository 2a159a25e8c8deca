#pragma once
// An ensemble of trained models over the same items (Spotify's related-artists recipe): each query's
// candidates are the union of every member's top-N, every candidate is scored by every member, the
// scores are normalised per member over the candidate set (z-score), and a logistic model over the
// normalised scores ranks them. This file holds the fitted weights, the ensemble file (.ence) and the
// logistic regression that fits them; the queries are in encore/query/ensemble_queries.hpp and the
// fit on a held-out split in encore/eval/ensemble_fit.hpp.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/data/string_table.hpp"
#include "encore/models/model.hpp"

namespace encore {

// A logistic model over the members' normalised scores: p = sigmoid(bias + sum_m weights[m] * z_m).
struct EnsembleWeights {
    std::vector<double> weights;  // one per member
    double bias = 0;
};

// Which model a weight belongs to: its kind and its item table (the ensemble only combines models over
// the same items, in the same order).
struct EnsembleMember {
    std::string kind;
    std::uint64_t items_fingerprint = 0;
};

struct Ensemble {
    std::vector<EnsembleMember> members;
    std::int64_t n_items = 0;
    int candidates = 50;        // each member's top-N that forms the candidate set
    EnsembleWeights related;    // related items: (query item, candidate) pairs
    EnsembleWeights recommend;  // recommendations: (user, candidate) pairs
    nlohmann::json info = nlohmann::json::object();  // fit report and provenance
};

inline constexpr std::uint32_t kEnsembleVersion = 1;

// XXH3-64 of the item keys in order (what a member's items_fingerprint records).
std::uint64_t items_fingerprint(const StringTable& items);

// Throws Error unless every model has the same item keys in the same order (names the first model that
// differs and how), and the same users (both sides of a recommendation must mean the same people).
void check_same_items(std::span<const Model* const> models);

// Throws Error unless the ensemble was fitted for these models: same count, kinds and item tables.
void check_ensemble_models(const Ensemble& ensemble, std::span<const Model* const> models);

// Every member weighted 1 (bias 0): the ensemble used when no fitted file is given.
Ensemble equal_weight_ensemble(std::span<const Model* const> models, int candidates);

// Throws OptionError for candidates < 1.
void save_ensemble(const Ensemble& ensemble, const std::string& path);
// Throws FormatError for a truncated/corrupted/foreign file or inconsistent contents.
Ensemble load_ensemble(const std::string& path);

// L2-regularised logistic regression by Newton's method (IRLS) on dense features: rows x d row-major,
// labels 0/1. Deterministic (sequential sums in row order). The bias is not regularised.
struct LogisticOptions {
    double l2 = 1e-4;          // penalty l2 * |w|^2 / 2, per example (scaled by the row count)
    int max_iterations = 50;
    double tolerance = 1e-9;   // stop when the largest Newton step is below this
};
struct LogisticFit {
    EnsembleWeights weights;
    double log_loss = 0;  // mean negative log-likelihood at the solution
    int iterations = 0;
};
// Throws Error for no rows, a size mismatch, or labels all one class.
LogisticFit fit_logistic(std::span<const double> features, std::span<const std::uint8_t> labels, int d,
                         const LogisticOptions& options = {});

}  // namespace encore
