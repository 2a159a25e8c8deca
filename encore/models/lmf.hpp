#pragma once
// Logistic matrix factorisation (Johnson 2014). The probability that user u plays item i is
// sigma(x_u . y_i + b_u + b_i); a played cell counts as c_ui positive observations (c = the model's
// confidence, e.g. the log weighting 1 + alpha log(1 + plays / eps), Johnson's recommendation) and every
// cell as one negative. The gradient for a user (items alike, with users and items swapped):
//   g_u = sum over played i of (c_ui (1 - s_ui) - s_ui) y_i  -  sum over sampled j of s_uj y_j  -  reg x_u
// with s = sigma(score) and negative_samples * (mean played per row) items j drawn uniformly, the same
// number for every row (instead of Johnson's sum over every cell, which is what makes LMF affordable).
// Drawing in proportion to each row's own positives (implicit's LMF) gives every item the same
// positive:negative ratio, so popularity cancels out and the ranking is near random on Last.fm data. Rows take AdaGrad ascent steps, all users
// (items fixed) then all items. Biases are two extra factor columns (the other side holds a fixed 1).
// Every row update depends only on the other side and a generator keyed by (seed, iteration, row), so
// the result is the same for any thread count.
#include <cstdint>
#include <vector>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

struct LmfOptions {
    int factors = 64;  // latent factors, not counting the two bias columns
    float learning_rate = 0.05f;  // (implicit: 30 factors, rate 1, regularization 0.6)
    float regularization = 0.01f;
    int iterations = 30;
    int negative_samples = 30;  // negatives per positive, on average
    std::uint64_t seed = 0;
    int threads = 0;            // 0 = all cores
    Reporter* reporter = nullptr;  // progress; null = silent
};

struct LmfReport {
    std::vector<double> log_likelihood;  // per iteration, on the positives and the sampled negatives
    double seconds = 0;
};

// cui_by_item must be the transpose of cui_by_user; entries with c <= 0 are ignored. The factor
// matrices get factors + 2 columns: user [x, b_u, 1], item [y, 1, b_i].
void train_lmf(const Csr& cui_by_user, const Csr& cui_by_item, const LmfOptions& options, Matrix& user_factors,
               Matrix& item_factors, LmfReport* report = nullptr);

}  // namespace encore
