#include "encore/models/bpr.hpp"

#include <atomic>
#include <chrono>
#include <algorithm>
#include <cmath>

#include <omp.h>

#include <fmt/format.h>

#include "encore/models/sgd_util.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

float load(const float& f) { return std::atomic_ref<const float>(f).load(std::memory_order_relaxed); }
void store(float& f, float v) { std::atomic_ref<float>(f).store(v, std::memory_order_relaxed); }

bool played(const Csr& m, std::int64_t u, std::int32_t i) {
    auto row = m.row_indices(u);
    return std::binary_search(row.begin(), row.end(), i);
}

}  // namespace

void train_bpr(const Csr& by_user, const BprOptions& o, Matrix& X, Matrix& Y, BprReport* report) {
    auto t0 = std::chrono::steady_clock::now();
    if (o.factors < 2) throw OptionError(fmt::format("bpr: factors must be at least 2 (one is the item bias), got {}", o.factors));
    if (!(o.learning_rate > 0)) throw OptionError(fmt::format("bpr: learning rate must be > 0, got {}", o.learning_rate));
    if (!(o.regularization >= 0)) throw OptionError(fmt::format("bpr: regularization must be >= 0, got {}", o.regularization));
    if (o.iterations < 0) throw OptionError(fmt::format("bpr: iterations must be >= 0, got {}", o.iterations));
    if (o.redraw_negatives < 0) throw OptionError(fmt::format("bpr: redraw must be >= 0, got {}", o.redraw_negatives));
    const std::int64_t users = by_user.rows, items = by_user.cols, nnz = by_user.nnz();
    const int F = o.factors, bias = F - 1;
    X = Matrix(users, F);
    Y = Matrix(items, F);
    // implicit's start: small uniform values around 0 scaled by 1/factors; the item bias starts at 0.
    for (std::int64_t u = 0; u < users; ++u) {
        detail::Rng rng(o.seed, 1, static_cast<std::uint64_t>(u));
        for (int f = 0; f < bias; ++f) X.row(u)[f] = (rng.uniform() - 0.5f) / static_cast<float>(F);
        X.row(u)[bias] = 1.0f;
    }
    for (std::int64_t i = 0; i < items; ++i) {
        detail::Rng rng(o.seed, 2, static_cast<std::uint64_t>(i));
        for (int f = 0; f < bias; ++f) Y.row(i)[f] = (rng.uniform() - 0.5f) / static_cast<float>(F);
    }
    if (nnz == 0 || items < 2) return;

    // The user of every non-zero, to draw (user, item) pairs uniformly.
    std::vector<std::int32_t> user_of(static_cast<std::size_t>(nnz));
    for (std::int64_t u = 0; u < users; ++u)
        for (auto k = by_user.indptr[u]; k < by_user.indptr[u + 1]; ++k) user_of[k] = static_cast<std::int32_t>(u);

    const int threads = resolve_threads(o.threads);
    const float lr = o.learning_rate, reg = o.regularization;
    Progress progress("bpr", o.iterations, o.reporter, "epochs");
    for (int epoch = 0; epoch < o.iterations; ++epoch) {
        std::int64_t correct = 0, skipped = 0;
#pragma omp parallel num_threads(threads) reduction(+ : correct, skipped)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            detail::Rng rng(o.seed, 3 + static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(t));
            const std::int64_t begin = nnz * t / nt, end = nnz * (t + 1) / nt;
            std::vector<float> xu(static_cast<std::size_t>(F));
            for (std::int64_t s = begin; s < end; ++s) {
                const auto k = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(nnz)));
                if (!(by_user.values[k] > 0)) { ++skipped; continue; }
                const std::int64_t u = user_of[k];
                const std::int32_t i = by_user.indices[k];
                auto draw = [&] {
                    return o.popular_negatives ? by_user.indices[rng.below(static_cast<std::uint64_t>(nnz))]
                                               : static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(items)));
                };
                auto j = draw();
                if (o.verify_negatives) {
                    int tries = 0;
                    while (played(by_user, u, j) && tries < o.redraw_negatives) {
                        j = draw();
                        ++tries;
                    }
                    if (played(by_user, u, j)) { ++skipped; continue; }
                } else if (j == i) {
                    ++skipped;
                    continue;
                }
                float* x = X.row(u);
                float* yi = Y.row(i);
                float* yj = Y.row(j);
                float score = 0;
                for (int f = 0; f < F; ++f) {
                    xu[f] = load(x[f]);
                    score += xu[f] * (load(yi[f]) - load(yj[f]));
                }
                const float z = 1.0f / (1.0f + std::exp(score));
                if (z < 0.5f) ++correct;
                for (int f = 0; f < F; ++f) {
                    const float a = load(yi[f]), b = load(yj[f]);
                    if (f != bias) store(x[f], xu[f] + lr * (z * (a - b) - reg * xu[f]));
                    store(yi[f], a + lr * (z * xu[f] - reg * a));
                    store(yj[f], b + lr * (-z * xu[f] - reg * b));
                }
            }
        }
        const double used = static_cast<double>(nnz - skipped);
        const double acc = used > 0 ? static_cast<double>(correct) / used : 0.0;
        if (report) {
            report->accuracy.push_back(acc);
            report->skipped.push_back(static_cast<double>(skipped) / static_cast<double>(nnz));
        }
        progress.note(fmt::format("accuracy {:.4f}", acc));
        progress.add(1);
    }
    progress.finish();
    if (report) report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace encore
