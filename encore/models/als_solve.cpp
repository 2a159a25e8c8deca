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
    // Per-thread partial sums over row blocks, summed in a fixed order: deterministic for a given
    // thread count and accurate (each partial is a modest-size GEMM in float, summed in double).
    const std::int64_t n = Y.rows();
    std::vector<Eigen::MatrixXd> partial(static_cast<std::size_t>(threads), Eigen::MatrixXd::Zero(k, k));
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
        std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
        constexpr std::int64_t kBlock = 4096;
        for (std::int64_t b = begin; b < end; b += kBlock) {
            std::int64_t rows = std::min(kBlock, end - b);
            Eigen::Map<const RowMat, Eigen::Aligned64, Eigen::OuterStride<>> block(
                Y.row(b), rows, k, Eigen::OuterStride<>(Y.stride()));
            Eigen::MatrixXf g = block.transpose() * block;
            partial[static_cast<std::size_t>(t)] += g.cast<double>();
        }
    }
    Eigen::MatrixXd total = Eigen::MatrixXd::Zero(k, k);
    for (auto& p : partial) total += p;
    std::vector<float> out(static_cast<std::size_t>(k * k));
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j)
            out[static_cast<std::size_t>(i * k + j)] = static_cast<float>(total(i, j)) + (i == j ? regularization : 0.0f);
    return out;
}

void als_solve_row(const std::vector<float>& gram, const Matrix& Y, std::span<const std::int32_t> items,
                   std::span<const float> conf, float* x) {
    const auto k = Y.cols();
    if (static_cast<std::int64_t>(gram.size()) != k * k) fail("als_solve_row: Gram matrix is not {}x{}", k, k);
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
