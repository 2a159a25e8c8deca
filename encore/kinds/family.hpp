#pragma once
// The model family behind one interface: every kind (encore/kinds/registry.hpp; one file each in
// encore/kinds/) trains from a Dataset into the same Model (encore/models/model.hpp says what a Model
// stores), and every query, the file format and eval handle them alike.
//   als      implicit ALS (Hu, Koren, Volinsky 2008)              encore/models/als.hpp
//   lsa      truncated SVD of the weighted matrix                  encore/models/lsa.hpp
//   bpr      Bayesian Personalized Ranking, Hogwild SGD            encore/models/bpr.hpp
//   lmf      logistic matrix factorisation (Johnson 2014)          encore/models/lmf.hpp
//   knn      item-item nearest neighbours (cosine, tfidf, bm25)    encore/models/knn.hpp
//   popular  items by number of listeners (a baseline)
// The weighting turns plays into the confidences the model trains on and stores (user_items). Each
// kind has its own default weighting (default_model_options), chosen on Last.fm data (README).
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "encore/data/dataset.hpp"
#include "encore/data/weighting.hpp"
#include "encore/kinds/model_type.hpp"
#include "encore/models/als.hpp"
#include "encore/models/bpr.hpp"
#include "encore/models/knn.hpp"
#include "encore/models/lmf.hpp"
#include "encore/models/lsa.hpp"
#include "encore/models/model.hpp"

namespace encore {

// A model kind: an entry of the registry (never null once set; compare by identity).
using ModelKind = const ModelType*;
ModelKind parse_model_kind(std::string_view name);  // throws OptionError naming the known kinds
std::string_view model_kind_name(ModelKind kind);
// The default kind (als).
ModelKind default_model_kind();

// Every kind's options side by side: a kind reads its own member (and the weighting).
struct ModelOptions {
    ModelKind kind = default_model_kind();
    WeightingOptions weighting;
    AlsOptions als;
    LsaOptions lsa;
    BprOptions bpr;
    LmfOptions lmf;
    KnnOptions knn;
    int threads = 0;     // 0 = all cores; overrides the per-model value
    Reporter* reporter = nullptr;  // progress and the "trained ..." line; null = silent
};

// Where one kind's own options live inside a ModelOptions (ModelType::options); monostate: nowhere.
struct KindOptionsRef {
    std::variant<std::monostate, AlsOptions*, LsaOptions*, BprOptions*, LmfOptions*, KnnOptions*> target;
};

// The defaults for a kind (its weighting included).
ModelOptions default_model_options(ModelKind kind);

struct TrainReport {
    double seconds = 0;  // weighting + training, wall clock
    nlohmann::json training = nlohmann::json::object();  // per-kind: loss, accuracy per epoch, singular values
};

// Weighting + training on data -> a complete Model (ids, names, confidences, provenance in info).
// Throws Error for an empty dataset and OptionError for bad options.
Model train_model(const Dataset& data, const ModelOptions& options, const std::string& source,
                  TrainReport* report = nullptr);

// The options of a kind as JSON (what info["options"] records).
nlohmann::json model_options_json(const ModelOptions& options);

}  // namespace encore
