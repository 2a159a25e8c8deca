// Exact per-row solves shared by ALS (Cholesky solver), fold-in of new users and explanations.
#include <Eigen/Dense>

#include "encore/models/als.hpp"
#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

std::vector<float> als_gram(const Matrix& Y, float regularization, int threads) {
    const auto k = Y.cols();
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    threads = resolve_threads(threads);
    // Partial sums over a fixed partition of the rows (it depends on the row count only, never on
    // the thread count), each accumulated in double block by block and summed in a fixed order: the
    // result is bit-identical for any number of threads, which keeps whole ALS runs so.
    const std::int64_t n = Y.rows();
    constexpr std::int64_t kBlock = 4096, kMaxChunks = 64;
    const std::int64_t chunk_rows = std::max(kBlock, (n + kMaxChunks - 1) / kMaxChunks);
    const std::int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
    std::vector<Eigen::MatrixXd> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::int64_t c = 0; c < chunks; ++c) {
        Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(k, k);
        Eigen::MatrixXf g(k, k);
        const std::int64_t end = std::min(n, (c + 1) * chunk_rows);
        for (std::int64_t b = c * chunk_rows; b < end; b += kBlock) {
            std::int64_t rows = std::min(kBlock, end - b);
            Eigen::Map<const RowMat, Eigen::Aligned64, Eigen::OuterStride<>> block(Y.row(b), rows, k,
                                                                                   Eigen::OuterStride<>(Y.stride()));
            g.setZero();
            g.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
            acc += g.cast<double>();
        }
        partial[static_cast<std::size_t>(c)] = std::move(acc);
    }
    Eigen::MatrixXd total = Eigen::MatrixXd::Zero(k, k);
    for (auto& p : partial) total += p;
    std::vector<float> out(static_cast<std::size_t>(k * k));
    // Only the lower triangle was accumulated; mirror it so the result is exactly symmetric.
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) {
            double v = i >= j ? total(i, j) : total(j, i);
            out[static_cast<std::size_t>(i * k + j)] = static_cast<float>(v) + (i == j ? regularization : 0.0f);
        }
    return out;
}

void als_solve_row(const std::vector<float>& gram, const Matrix& Y, std::span<const std::int32_t> items,
                   std::span<const float> conf, float* x) {
    const auto k = Y.cols();
    if (static_cast<std::int64_t>(gram.size()) != k * k) fail("als_solve_row: Gram matrix is not {}x{}", k, k);
    if (items.size() != conf.size()) fail("als_solve_row: {} items but {} confidences", items.size(), conf.size());
    for (auto i : items)
        if (i < 0 || i >= Y.rows()) fail("als_solve_row: item index {} outside 0..{}", i, Y.rows() - 1);
    Eigen::MatrixXf A = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(gram.data(), k, k);
    Eigen::VectorXf b = Eigen::VectorXf::Zero(k);
    for (std::size_t j = 0; j < items.size(); ++j) {
        Eigen::Map<const Eigen::VectorXf> y(Y.row(items[j]), k);
        float c = conf[j];
        float a = std::fabs(c);
        A.noalias() += (a - 1.0f) * (y * y.transpose());
        if (c > 0) b.noalias() += c * y;
    }
    Eigen::LDLT<Eigen::MatrixXf> ldlt(A);
    Eigen::Map<Eigen::VectorXf>(x, k) = ldlt.solve(b);
}

}  // namespace encore
