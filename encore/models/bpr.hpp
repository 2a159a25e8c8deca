#pragma once
// Bayesian Personalized Ranking (Rendle et al. 2009) by stochastic gradient descent. One epoch draws
// nnz samples: a played (user, item) pair uniformly among the non-zeros, and a negative item uniformly
// among all items, or (popular_negatives) the item of another uniformly drawn non-zero, i.e. in
// proportion to its listeners (as implicit's BPR does; popular items are then pushed down harder). A negative the user has played is either skipped (verify_negatives, as implicit) or
// re-drawn up to redraw_negatives times. For z = sigmoid(-(x_u . (y_i - y_j))):
//   x_u += lr (z (y_i - y_j) - reg x_u),  y_i += lr (z x_u - reg y_i),  y_j += lr (-z x_u - reg y_j).
// The last factor column is an item bias: users hold a fixed 1 there. Threads update shared factors
// without locks (Hogwild, Niu et al. 2011): each thread works through its own share of the samples with
// its own seeded generator and reads/writes factors with relaxed atomic accesses. With threads = 1 the
// result depends only on the seed; with more threads, on the seed and the interleaving (run to run
// differences are small and do not change the quality).
#include <cstdint>
#include <vector>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

struct BprOptions {
    int factors = 64;  // including the item-bias column
    float learning_rate = 0.05f;  // 0.01 is implicit's default; 0.05 ranks better on Last.fm 2K
    float regularization = 0.01f;
    int iterations = 100;
    bool verify_negatives = true;  // skip (or re-draw) negatives the user has played
    int redraw_negatives = 0;      // re-draws before skipping; 0 = skip at once (implicit's behaviour)
    bool popular_negatives = false;  // draw negatives in proportion to popularity instead of uniformly
    std::uint64_t seed = 0;
    int threads = 0;               // 0 = all cores
    Reporter* reporter = nullptr;  // progress; null = silent
};

struct BprReport {
    std::vector<double> accuracy;  // per epoch: share of samples ranked correctly before their update
    std::vector<double> skipped;   // per epoch: share of samples skipped (negative played)
    double seconds = 0;
};

// by_user: users x items; any value > 0 is a positive (values are not used as weights).
void train_bpr(const Csr& by_user, const BprOptions& options, Matrix& user_factors, Matrix& item_factors,
               BprReport* report = nullptr);

}  // namespace encore
