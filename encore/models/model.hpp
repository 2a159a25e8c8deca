#pragma once
// Model: a trained model and everything needed to answer queries with it alone: the id tables and
// names, the confidence matrix it was trained on (by user: played-item filtering, explanations), the
// weighting statistics (to fold in new users), the options and data provenance as JSON, and the
// model's own parameters, by kind (encore/kinds/family.hpp trains every kind):
//   als, lsa, bpr, lmf  factor models: user and item factors, score = x_u . y_i (biases, where a model
//                       has them, are factor columns whose other side is fixed at 1)
//   popular             one factor: items by the number of users who played them, users all 1
//   knn                 no factors (0 columns); item_neighbours (items x items) holds each item's top-K
//                       neighbours and similarities, score_ui = sum over played j of c_uj * s_ji
// Saved as a .encm container (docs/formats.md), loaded by mapping.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"
#include "encore/data/string_table.hpp"
#include "encore/data/weighting.hpp"

namespace encore {

struct Model {
    std::string kind = "als";  // a name from the registry (encore/kinds/registry.hpp)
    Matrix user_factors;       // n_users x factors
    Matrix item_factors;       // n_items x factors
    StringTable users, items, item_names;
    Csr user_items;            // confidences by user, as trained on
    WeightingModel weighting;
    Csr item_neighbours;       // knn only: row i = i's neighbours (sorted by index) with similarities
    float regularization = 0.0f;  // the lambda used in training (explain and fold-in need it)
    nlohmann::json info = nlohmann::json::object();  // {"options": {...}, "data": {...}, "training": {...}}
    // load_model records the checksum the file holds for item_factors and where those factors are
    // mapped, so checking an index against the model costs nothing (item_factors_fingerprint).
    // Tied to the data pointer: assigning new factors drops it; code that writes into loaded
    // factors in place must reset it.
    struct Digest {
        const float* data = nullptr;
        std::uint64_t value = 0;
    } item_factors_digest;

    std::int64_t n_users() const { return user_factors.rows(); }
    std::int64_t n_items() const { return item_factors.rows(); }
    std::int64_t factors() const { return item_factors.cols(); }
    std::string_view item_label(std::int64_t i) const;
    // Scored by factors; otherwise by the item-item matrix item_neighbours (factor matrices of 0 columns).
    bool has_factors() const { return item_factors.cols() > 0; }
};

inline constexpr std::uint32_t kModelVersion = 1;

// Whether a kind name is one the registry knows (defined in encore/kinds/registry.cpp, which lists them).
bool is_model_kind(std::string_view kind);

// XXH3-64 of item_factors.storage() (what an index records for its source vectors): the digest
// load_model recorded when the factors are still the loaded ones, otherwise hashed now.
std::uint64_t item_factors_fingerprint(const Model& model);

void save_model(const Model& model, const std::string& path);
// verify = check every section checksum and every stored index (reads the whole file once); without
// it the file is mapped and trusted to be one encore wrote (headers and shapes still checked).
// Throws FormatError for a truncated/corrupted/foreign file.
Model load_model(const std::string& path, bool verify = true);

}  // namespace encore
