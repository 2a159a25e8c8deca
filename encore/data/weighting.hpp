#pragma once
// Weighting: raw values (plays) -> the confidence c that ALS uses. Cells not played have c = 1, p = 0;
// a played cell has p = 1 and c = its weighted value. Formulas (x = raw value, docs/algorithms.md):
//   none    c = alpha * x
//   linear  c = 1 + alpha * x                       (Hu, Koren, Volinsky 2008)
//   log     c = 1 + alpha * log(1 + x / eps)        (ditto)
//   bm25    c = alpha * x (K1 + 1) / (K1 * ((1 - B) + B * L_i / mean L) + x) * idf_u
//   tfidf   c = alpha * sqrt(x) * idf_u
// alpha defaults to 1 for none/bm25/tfidf (the weights are the confidences, as in implicit, whose
// alpha scales the matrix the same way) and to 40 for linear/log (the paper's value).
// bm25/tfidf follow implicit's Last.fm recipe: the item x user matrix is the corpus (items are the
// documents, users the terms), so L_i = total plays of item i and idf_u = log(N_items) - log1p(n_u)
// with n_u = number of items user u played (stored entries of its row). A negative x (a dislike,
// with --allow-negative) is weighted by |x| and keeps its sign: ALS reads it as p = 0 with
// confidence |c|; L_i sums |x| too. Note idf_u < 0 when a user played every item (n_u = N_items),
// exactly as in implicit. bm25 gives a stored x = 0 the weight 0.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/data/csr.hpp"

namespace encore {

enum class WeightingKind { none, bm25, tfidf, linear, log };

WeightingKind parse_weighting(std::string_view name);  // throws OptionError
float default_alpha(WeightingKind kind);  // 1 for none/bm25/tfidf, 40 for linear/log
std::string_view weighting_name(WeightingKind k);

struct WeightingOptions {
    WeightingKind kind = WeightingKind::bm25;
    float K1 = 100.0f;    // bm25 term-frequency saturation
    float B = 0.8f;       // bm25 length normalisation
    std::optional<float> alpha = std::nullopt;  // confidence scale; unset = default_alpha(kind)
    float eps = 1.0f;     // log scale
};

// What it takes to weigh a new user's row exactly as the training rows were (fold-in): the options
// plus per-item statistics of the training matrix.
struct WeightingModel {
    WeightingOptions options;  // as fitted: alpha always set
    std::int64_t n_items = 0;
    std::vector<float> item_length_norm;  // bm25: (1 - B) + B * L_i / mean L; empty otherwise
};

// Throws OptionError for out-of-range parameters of the chosen kind (K1 > 0, 0 <= B <= 1,
// alpha > 0, eps > 0).
WeightingModel fit_weighting(const Csr& by_user, const WeightingOptions& options);
// The confidence matrix (same structure as by_user).
Csr apply_weighting(const Csr& by_user, const WeightingModel& model, int threads = 0);
// Confidences for one (possibly new) user's row: bit-identical to that row of apply_weighting for
// the same entries (idf_u depends only on the row's own length). Throws Error on an item index
// outside the fitted items or a length mismatch.
std::vector<float> weigh_row(std::span<const std::int32_t> items, std::span<const float> values,
                             const WeightingModel& model);

}  // namespace encore
