#pragma once
// The one interface every model kind implements (see docs/architecture.md, "Adding a model").
//
// A kind is two things:
//   ModelType  what the registry (encore/kinds/registry.hpp) hands out by name: the kind's defaults,
//              training (Dataset -> the parameters of a Model), the options it records, and open(),
//              which prepares a trained Model for queries;
//   Scorer     a Model opened for queries: everything that depends only on the model (unit-length
//              factors, popularity order, Gram matrices) is computed once in open(), and every method is
//              const and safe to call from many threads at once.
// Nothing outside encore/kinds/ branches on a kind's name: queries, the ensemble, evaluation and every
// front end ask the model's Scorer. Saving and loading need no kind code at all: a Model is factors
// and/or an item-item matrix (encore/models/model.hpp), whatever trained it.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/data/dataset.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/results.hpp"
#include "encore/retrieval/topk.hpp"

namespace encore {

struct ModelOptions;
struct KindOptionsRef;  // encore/kinds/family.hpp

// A user as a scorer sees one: played items (ascending, one entry each) with their confidences, and the
// user's row in the model for a known user (-1: a new user, folded in from the items).
struct UserProfile {
    std::span<const std::int32_t> items;
    std::span<const float> conf;
    std::int64_t user = -1;
};

// One user's explanations, prepared once (a factorisation, say) and asked for many items.
class UserExplainer {
public:
    virtual ~UserExplainer() = default;
    // The n played items contributing most to item's score (largest first; ties: lower index), and in
    // total_score the sum of every contribution.
    virtual std::vector<Contribution> explain(std::int32_t item, int n, float* total_score) const = 0;
};

class Scorer {
public:
    virtual ~Scorer() = default;
    virtual const Model& model() const = 0;

    // Items related to item, best first, item itself never returned; allowed: per item (empty = all).
    virtual std::vector<ScoredItem> related(std::int32_t item, std::span<const std::uint8_t> allowed, int n) const = 0;
    // The same for every item (batch; options.k results each). By default, related() per item in parallel.
    virtual std::vector<std::vector<ScoredItem>> related_all(std::span<const std::uint8_t> allowed,
                                                             const TopKOptions& options) const;
    // The same for a list of items (no filter): what ensemble fitting needs for a sample of items.
    virtual std::vector<std::vector<ScoredItem>> related_for(std::span<const std::int32_t> items, int n,
                                                             int threads) const;
    // The score related() ranks other by for item (0 where the kind has none for the pair).
    virtual double similarity(std::int32_t item, std::int32_t other) const = 0;

    // Recommendations for a user (known or new), best first; filter_played drops the profile's items.
    virtual std::vector<ScoredItem> recommend(const UserProfile& user, std::span<const std::uint8_t> allowed,
                                              bool filter_played, int n) const = 0;
    // For every known user (batch; options.k results each).
    virtual std::vector<std::vector<ScoredItem>> recommend_all(std::span<const std::uint8_t> allowed, bool filter_played,
                                                               const TopKOptions& options) const = 0;
    // The score recommend() ranks item by for user.
    virtual double score(const UserProfile& user, std::int32_t item) const = 0;
    // Explanations for user (a kind that cannot explain returns one that names nothing).
    virtual std::unique_ptr<UserExplainer> explainer(const UserProfile& user) const = 0;

    // Users most like user (cosine of user factors); a kind without user factors throws Error.
    virtual std::vector<ScoredItem> similar_users(std::int32_t user, int n) const;

    // The item vectors an ANN index of this model holds, and a user's query vector for a dot-product
    // index; null / Error for a kind an index cannot serve.
    virtual const Matrix* index_vectors() const { return nullptr; }
    virtual std::vector<float> user_vector(const UserProfile& user) const;
};

// What a kind's training produced besides the model's parameters.
struct KindTraining {
    nlohmann::json training = nlohmann::json::object();  // per-kind figures (loss, accuracy, singular values)
    std::string summary;                                 // "ALS (64 factors, 15 iterations, cg)"
};

class ModelType {
public:
    virtual ~ModelType() = default;
    virtual std::string_view name() const = 0;
    // One line for listings ("implicit ALS (Hu, Koren, Volinsky 2008)").
    virtual std::string_view description() const = 0;

    // The kind's own options struct inside options (an empty ref for a kind without one): how code
    // that handles options by name (the option registry) reaches a kind's fields without naming kinds.
    virtual KindOptionsRef options(ModelOptions& options) const;
    // The kind's own defaults on top of the common ones (its weighting, say).
    virtual void apply_defaults(ModelOptions& options) const { (void)options; }
    // Trains on the weighted confidences in model.user_items (filled by train_model, by user) and the raw
    // data, filling the model's parameters: user_factors and item_factors, or item_neighbours with
    // 0-column factor matrices, and regularization where fold-in needs it.
    virtual KindTraining train(const Dataset& data, const ModelOptions& options, Model& model) const = 0;
    // The kind's options as recorded in a model's info["options"] (after the common ones).
    virtual void options_json(const ModelOptions& options, nlohmann::json& out) const = 0;
    // A trained model of this kind, prepared for queries (model must outlive the scorer).
    virtual std::unique_ptr<Scorer> open(const Model& model, int threads) const = 0;
};

}  // namespace encore
