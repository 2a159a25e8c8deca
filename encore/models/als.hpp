#pragma once
// Implicit-feedback ALS (Hu, Koren, Volinsky 2008). For user u with confidences c_ui (c = 1, p = 0 for
// cells not played; p = 1 where c > 0, p = 0 and confidence |c| where c < 0):
//   x_u = (Y^T Y + lambda I + sum_i (|c_ui| - 1) y_i y_i^T)^-1  sum_{c_ui > 0} c_ui y_i
// solved exactly (Cholesky) or approximately by a few conjugate-gradient steps warm-started from the
// previous x_u (Takacs, Pilaszy, Tikk 2011). Items are solved the same way from the users.
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "encore/data/csr.hpp"
#include "encore/data/matrix.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

enum class AlsSolver { cholesky, cg };
AlsSolver parse_als_solver(std::string_view name);  // throws OptionError
std::string_view als_solver_name(AlsSolver s);

struct AlsOptions {
    int factors = 64;
    float regularization = 0.01f;
    int iterations = 15;
    AlsSolver solver = AlsSolver::cg;
    int cg_steps = 3;
    // CG reads the other side's factor rows from a half-precision copy (IEEE binary16, made once
    // per half-step): half the bytes per scattered row, which is what the gather waits on. The rows'
    // relative rounding (2^-11) is far below what three CG steps leave unsolved; all arithmetic stays
    // float32. false: read the float32 factors.
    bool half_gather = true;
    // CG works in the eigenbasis of the fixed side's Y^T Y + lambda I, where that matrix is diagonal:
    // before each half-step both factor matrices are rotated by its eigenvectors (an orthogonal map,
    // so every score x.y, norm and cosine is unchanged), and CG's k x k product M v, once per step
    // and row, becomes k multiplications. The two rotations are GEMMs over all rows, about half the
    // arithmetic of those products and far faster per operation. CG is rotation-invariant, so the
    // iterates are the same up to rounding; the trained factors are expressed in the last half-step's
    // basis. false: the original basis, M v per step.
    bool eigenbasis = true;
    // With the eigenbasis: CG preconditioned by the Gram matrix's eigenvalues (Y^T Y + lambda I is
    // that diagonal there), which takes its spread out of every row's system. Same cost per step
    // (a k-vector product and one more dot), closer to the exact solve after the same three steps
    // (bench/README.md). Ignored without the eigenbasis.
    bool cg_precondition = true;
    std::uint64_t seed = 0;
    int threads = 0;            // 0 = all cores
    bool compute_loss = false;  // the full loss after every iteration (costs about one CG step)
    Reporter* reporter = nullptr;  // progress; null = silent
    // Factor rows gathered at once into a thread's buffer (0 = automatic: 8 MB worth). Rows with more
    // entries (very popular items) are processed in chunks, re-gathered on every pass.
    std::int64_t block_rows = 0;
};

struct AlsReport {
    std::vector<double> loss;  // per iteration, when compute_loss
    double seconds = 0;
};

// Trains from scratch: factors are initialised from the seed (uniform [0, 0.01), per row from its own
// splitmix64 stream keyed by (seed, side, row)). Every row solve depends only on its own data and on
// a Gram matrix summed over a fixed partition, so the result is bit-identical for the same seed
// whatever the thread count (it may differ between builds for different CPUs: kernels vectorise
// differently). cui_by_item must be the transpose of cui_by_user. Throws OptionError on bad options.
void train_als(const Csr& cui_by_user, const Csr& cui_by_item, const AlsOptions& options,
               Matrix& user_factors, Matrix& item_factors, AlsReport* report = nullptr);

// One half-step: recompute every row of X (rows of cui) from the fixed Y. Exposed for tests.
void als_update(const Csr& cui, const Matrix& Y, Matrix& X, const AlsOptions& options);

// YtY + regularization * I (factors x factors, row-major dense, stride = factors); exactly symmetric
// and independent of the thread count.
std::vector<float> als_gram(const Matrix& Y, float regularization, int threads = 0);

// The objective sum_{u,i} c_ui (p_ui - x_u.y_i)^2 + lambda (|X|^2 + |Y|^2), divided by
// sum_{u,i} c_ui (= n_users * n_items + sum (|c| - 1)) as implicit reports it.
double als_loss(const Csr& cui_by_user, const Matrix& X, const Matrix& Y, float regularization, int threads = 0);

// Solves one user's normal equations exactly for confidences (items, conf) -> x (length factors).
// gram = als_gram(Y, lambda). Used for fold-in and explanations.
void als_solve_row(const std::vector<float>& gram, const Matrix& Y, std::span<const std::int32_t> items,
                   std::span<const float> conf, float* x);

}  // namespace encore
