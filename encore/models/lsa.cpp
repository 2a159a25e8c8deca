#include "encore/models/lsa.hpp"

#include <chrono>
#include <cmath>

#include <Eigen/Dense>

#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

using Dense = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;  // column-major

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Standard normal by Box-Muller from our own generator: the same numbers on every platform.
Dense gaussian(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
    Dense g(rows, cols);
    std::uint64_t state = seed ^ 0x4C5341ull;
    const double two_pi = 6.283185307179586;
    for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t r = 0; r < rows; ++r) {
            double u1 = (static_cast<double>(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
            double u2 = (static_cast<double>(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
            g(r, c) = std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
        }
    return g;
}

// out = A B for sparse A (rows x A.cols) and dense B (A.cols x l); one row per task.
Dense sparse_times(const Csr& A, const Dense& B, int threads) {
    const auto l = B.cols();
    Dense out = Dense::Zero(A.rows, l);
    // Row-major scratch per row: out is column-major, so gather the row, then scatter.
#pragma omp parallel num_threads(threads)
    {
        Eigen::VectorXd acc(l);
#pragma omp for schedule(dynamic, 256)
        for (std::int64_t r = 0; r < A.rows; ++r) {
            acc.setZero();
            for (auto k = A.indptr[r]; k < A.indptr[r + 1]; ++k)
                acc += static_cast<double>(A.values[k]) * B.row(A.indices[k]).transpose();
            out.row(r) = acc.transpose();
        }
    }
    return out;
}

Dense orthonormal(const Dense& M) {
    Eigen::HouseholderQR<Dense> qr(M);
    return qr.householderQ() * Dense::Identity(M.rows(), M.cols());
}

}  // namespace

void train_lsa(const Csr& by_user, const Csr& by_item, const LsaOptions& o, Matrix& user_factors,
               Matrix& item_factors, LsaReport* report) {
    auto t0 = std::chrono::steady_clock::now();
    if (o.factors < 1) throw OptionError(fmt::format("lsa: factors must be at least 1, got {}", o.factors));
    if (o.oversample < 0) throw OptionError(fmt::format("lsa: oversample must be at least 0, got {}", o.oversample));
    if (o.power_iterations < 0)
        throw OptionError(fmt::format("lsa: power iterations must be at least 0, got {}", o.power_iterations));
    if (by_item.rows != by_user.cols || by_item.cols != by_user.rows)
        fail("lsa: the by-item matrix is {}x{}, expected {}x{}", by_item.rows, by_item.cols, by_user.cols, by_user.rows);
    const std::int64_t users = by_user.rows, items = by_user.cols;
    const std::int64_t k = o.factors;
    if (k > std::min(users, items))
        throw OptionError(fmt::format("lsa: {} factors for a {}x{} matrix (at most {})", k, users, items,
                                      std::min(users, items)));
    const std::int64_t l = std::min(k + o.oversample, std::min(users, items));
    const int threads = resolve_threads(o.threads);

    Progress progress("lsa", static_cast<double>(o.power_iterations + 2), o.reporter, "passes");
    Dense Q = orthonormal(sparse_times(by_user, gaussian(items, l, o.seed), threads));  // users x l
    progress.add(1);
    for (int it = 0; it < o.power_iterations; ++it) {
        // Re-orthonormalising on both sides keeps the small singular directions from being lost to
        // rounding as they are raised to higher powers.
        Dense Z = orthonormal(sparse_times(by_item, Q, threads));  // items x l
        Q = orthonormal(sparse_times(by_user, Z, threads));
        progress.add(1);
    }
    Dense Bt = sparse_times(by_item, Q, threads);  // (Q^T C)^T: items x l
    Eigen::BDCSVD<Dense> svd(Bt, Eigen::ComputeThinU | Eigen::ComputeThinV);
    // Bt = W S Zt  =>  C ~ Q Bt^T = (Q Z) S W^T: the item singular vectors are W's columns.
    const Dense& W = svd.matrixU();  // items x l
    const Eigen::VectorXd& s = svd.singularValues();
    progress.add(1);
    progress.finish();

    item_factors = Matrix(items, k);
    std::vector<double> root(static_cast<std::size_t>(k), 0.0), inv_root(static_cast<std::size_t>(k), 0.0);
    const double floor = (s.size() > 0 ? s(0) : 0.0) * 1e-12;
    for (std::int64_t f = 0; f < k; ++f)
        if (s(f) > floor && s(f) > 0) root[f] = std::sqrt(s(f)), inv_root[f] = 1.0 / std::sqrt(s(f));
    // A sign per factor makes the output independent of the SVD's sign choices: the largest entry of
    // each item singular vector is positive.
    std::vector<double> sign(static_cast<std::size_t>(k), 1.0);
    for (std::int64_t f = 0; f < k; ++f) {
        Eigen::Index at = 0;
        W.col(f).cwiseAbs().maxCoeff(&at);
        if (W(at, f) < 0) sign[f] = -1.0;
    }
    Dense V(items, k);
    for (std::int64_t f = 0; f < k; ++f) V.col(f) = sign[f] * W.col(f);
    for (std::int64_t i = 0; i < items; ++i)
        for (std::int64_t f = 0; f < k; ++f) item_factors.row(i)[f] = static_cast<float>(V(i, f) * root[f]);
    Dense CV = sparse_times(by_user, V, threads);  // users x k
    user_factors = Matrix(users, k);
    for (std::int64_t u = 0; u < users; ++u)
        for (std::int64_t f = 0; f < k; ++f) user_factors.row(u)[f] = static_cast<float>(CV(u, f) * inv_root[f]);
    if (report) {
        report->singular_values.assign(s.data(), s.data() + k);
        report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
}

}  // namespace encore
