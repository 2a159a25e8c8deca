#pragma once
// Model: a trained factor model and everything needed to answer queries with it alone: user and item
// factors, the id tables and names, the confidence matrix it was trained on (by user: played-item
// filtering, explanations), the weighting statistics (to fold in new users) and the options and data
// provenance as JSON. Saved as a .encm container (docs/formats.md), loaded by mapping.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"
#include "encore/data/string_table.hpp"
#include "encore/data/weighting.hpp"

namespace encore {

struct Model {
    std::string kind = "als";  // model family; later issues add more
    Matrix user_factors;       // n_users x factors
    Matrix item_factors;       // n_items x factors
    StringTable users, items, item_names;
    Csr user_items;            // confidences by user, as trained on
    WeightingModel weighting;
    float regularization = 0.0f;  // the lambda used in training (explain and fold-in need it)
    nlohmann::json info = nlohmann::json::object();  // {"options": {...}, "data": {...}, "training": {...}}

    std::int64_t n_users() const { return user_factors.rows(); }
    std::int64_t n_items() const { return item_factors.rows(); }
    std::int64_t factors() const { return item_factors.cols(); }
    std::string_view item_label(std::int64_t i) const;
};

inline constexpr std::uint32_t kModelVersion = 1;

void save_model(const Model& model, const std::string& path);
// verify = check every section checksum. Throws FormatError for a truncated/corrupted/foreign file.
Model load_model(const std::string& path, bool verify = true);

}  // namespace encore
