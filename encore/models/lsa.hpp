#pragma once
// Latent semantic analysis: the truncated SVD C ~ U S V^T of the weighted users x items matrix,
// computed by a randomized range finder with power iterations (Halko, Martinsson, Tropp 2011):
// Q = orth(C Omega) for a Gaussian Omega with factors + oversample columns, then `power_iterations`
// times Q = orth(C orth(C^T Q)), then the exact SVD of the small Q^T C. Double precision throughout.
// Factors are scaled so that dot products are the model's scores and cosines its similarities:
//   item factors  Y = V S^(1/2)
//   user factors  X = C V S^(-1/2)   (= U S^(1/2) for the exact SVD; computed from C so that
//                                     x_u . y_i = sum_j c_uj (V V^T)_ji exactly: explanations add up)
// so X Y^T = C V V^T, the projection of each user's row on the top singular item directions. Singular
// values below 1e-12 of the largest give zero columns. Deterministic for a seed, whatever the threads.
#include <cstdint>
#include <vector>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

struct LsaOptions {
    int factors = 64;
    int oversample = 10;
    int power_iterations = 4;
    std::uint64_t seed = 0;
    int threads = 0;  // 0 = all cores
    Reporter* reporter = nullptr;  // progress; null = silent
};

struct LsaReport {
    std::vector<double> singular_values;  // the factors largest, descending
    double seconds = 0;
};

// cui_by_item must be the transpose of cui_by_user. factors > min(users, items) is an OptionError.
void train_lsa(const Csr& cui_by_user, const Csr& cui_by_item, const LsaOptions& options, Matrix& user_factors,
               Matrix& item_factors, LsaReport* report = nullptr);

}  // namespace encore
