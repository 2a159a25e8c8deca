#include "encore/models/lmf.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "encore/models/sgd_util.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

float sigmoid(float s) { return 1.0f / (1.0f + std::exp(-s)); }

// log sigma(s) and log(1 - sigma(s)) without overflow.
double log_sigmoid(double s) { return s >= 0 ? -std::log1p(std::exp(-s)) : s - std::log1p(std::exp(s)); }

// One AdaGrad pass over the rows of `cui` (the side being updated, factors X) against fixed Y.
// fixed_col: the column of X that holds a constant 1 (the other side's bias); never updated.
double update_side(const Csr& cui, Matrix& X, const Matrix& Y, Matrix& grad_sq, const LmfOptions& o, int fixed_col,
                   std::uint64_t stream, int threads) {
    const int F = static_cast<int>(X.cols());
    const int latent = o.factors;
    const std::int64_t others = Y.rows();
    // The same number of negatives for every row (Johnson: every cell is one negative observation). In
    // proportion to the row's own positives instead, every item would see the same positive:negative
    // ratio and popularity would cancel out of the model.
    const std::int64_t negatives_per_row =
        cui.rows == 0 ? 0
                      : static_cast<std::int64_t>(std::llround(static_cast<double>(o.negative_samples) *
                                                               static_cast<double>(cui.nnz()) / static_cast<double>(cui.rows)));
    double loglik = 0;
#pragma omp parallel num_threads(threads) reduction(+ : loglik)
    {
        std::vector<float> g(static_cast<std::size_t>(F));
#pragma omp for schedule(dynamic, 64)
        for (std::int64_t r = 0; r < cui.rows; ++r) {
            std::fill(g.begin(), g.end(), 0.0f);
            float* x = X.row(r);
            std::int64_t positives = 0;
            for (auto k = cui.indptr[r]; k < cui.indptr[r + 1]; ++k) {
                const float c = cui.values[k];
                if (!(c > 0)) continue;
                ++positives;
                const float* y = Y.row(cui.indices[k]);
                float s = 0;
                for (int f = 0; f < F; ++f) s += x[f] * y[f];
                const float p = sigmoid(s);
                const float w = c * (1.0f - p) - p;
                for (int f = 0; f < F; ++f) g[f] += w * y[f];
                loglik += c * log_sigmoid(s) + log_sigmoid(-s);
            }
            if (positives == 0 || others == 0) continue;
            detail::Rng rng(o.seed, stream, static_cast<std::uint64_t>(r));
            const std::int64_t negatives = negatives_per_row;
            for (std::int64_t n = 0; n < negatives; ++n) {
                const float* y = Y.row(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(others))));
                float s = 0;
                for (int f = 0; f < F; ++f) s += x[f] * y[f];
                const float p = sigmoid(s);
                for (int f = 0; f < F; ++f) g[f] -= p * y[f];
                loglik += log_sigmoid(-s);
            }
            float* h = grad_sq.row(r);
            for (int f = 0; f < F; ++f) {
                if (f == fixed_col) continue;
                if (f < latent) g[f] -= o.regularization * x[f];
                h[f] += g[f] * g[f];
                x[f] += o.learning_rate * g[f] / std::sqrt(h[f] + 1e-8f);
            }
        }
    }
    return loglik;
}

}  // namespace

void train_lmf(const Csr& by_user, const Csr& by_item, const LmfOptions& o, Matrix& X, Matrix& Y, LmfReport* report) {
    auto t0 = std::chrono::steady_clock::now();
    if (o.factors < 1) throw OptionError(fmt::format("lmf: factors must be at least 1, got {}", o.factors));
    if (!(o.learning_rate > 0)) throw OptionError(fmt::format("lmf: learning rate must be > 0, got {}", o.learning_rate));
    if (!(o.regularization >= 0)) throw OptionError(fmt::format("lmf: regularization must be >= 0, got {}", o.regularization));
    if (o.iterations < 0) throw OptionError(fmt::format("lmf: iterations must be >= 0, got {}", o.iterations));
    if (o.negative_samples < 0)
        throw OptionError(fmt::format("lmf: negative samples must be >= 0, got {}", o.negative_samples));
    if (by_item.rows != by_user.cols || by_item.cols != by_user.rows)
        fail("lmf: the by-item matrix is {}x{}, expected {}x{}", by_item.rows, by_item.cols, by_user.cols, by_user.rows);
    const int F = o.factors + 2, ub = o.factors, ib = o.factors + 1;
    X = Matrix(by_user.rows, F);
    Y = Matrix(by_user.cols, F);
    for (std::int64_t u = 0; u < X.rows(); ++u) {
        detail::Rng rng(o.seed, 1, static_cast<std::uint64_t>(u));
        for (int f = 0; f < o.factors; ++f) X.row(u)[f] = (rng.uniform() - 0.5f) * 0.02f;
        X.row(u)[ib] = 1.0f;
    }
    for (std::int64_t i = 0; i < Y.rows(); ++i) {
        detail::Rng rng(o.seed, 2, static_cast<std::uint64_t>(i));
        for (int f = 0; f < o.factors; ++f) Y.row(i)[f] = (rng.uniform() - 0.5f) * 0.02f;
        Y.row(i)[ub] = 1.0f;
    }
    Matrix hx(X.rows(), F), hy(Y.rows(), F);
    const int threads = resolve_threads(o.threads);
    Progress progress("lmf", o.iterations, o.reporter, "iterations");
    for (int it = 0; it < o.iterations; ++it) {
        update_side(by_user, X, Y, hx, o, ib, 3 + 2 * static_cast<std::uint64_t>(it), threads);
        double ll = update_side(by_item, Y, X, hy, o, ub, 4 + 2 * static_cast<std::uint64_t>(it), threads);
        if (report) report->log_likelihood.push_back(ll);
        progress.note(fmt::format("log-likelihood {:.4g}", ll));
        progress.add(1);
    }
    progress.finish();
    if (report) report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace encore
