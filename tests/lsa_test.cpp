// LSA: the randomized SVD reproduces the exact SVD of a small matrix (singular values, and the
// factors' product), scaled as documented; deterministic for a seed and any thread count.
#include "encore/models/lsa.hpp"

#include <random>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "encore/util/error.hpp"

namespace encore {
namespace {

Csr random_matrix(int rows, int cols, double density, unsigned seed, Eigen::MatrixXd& dense) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coin(0, 1);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    dense = Eigen::MatrixXd::Zero(rows, cols);
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j)
            if (coin(rng) < density) {
                float x = static_cast<float>(1 + rng() % 9);
                r.push_back(i), c.push_back(j), v.push_back(x);
                dense(i, j) = x;
            }
    return Csr::from_triplets(rows, cols, r, c, v, 1);
}

TEST(Lsa, ReproducesTheExactSvd) {
    Eigen::MatrixXd C;
    auto by_user = random_matrix(30, 20, 0.3, 4, C);
    Eigen::JacobiSVD<Eigen::MatrixXd> exact(C, Eigen::ComputeFullV);
    LsaOptions o{.factors = 5, .oversample = 10, .power_iterations = 6, .seed = 1, .threads = 2};
    Matrix X, Y;
    LsaReport report;
    train_lsa(by_user, by_user.transpose(1), o, X, Y, &report);
    ASSERT_EQ(report.singular_values.size(), 5u);
    for (int f = 0; f < 5; ++f) EXPECT_NEAR(report.singular_values[f], exact.singularValues()(f), 1e-6 * exact.singularValues()(0));
    // Y = V S^(1/2): Y^T Y = S; X Y^T = C V V^T (the rank-5 projection of C's rows).
    Eigen::MatrixXd Ye(20, 5), Xe(30, 5);
    for (int i = 0; i < 20; ++i)
        for (int f = 0; f < 5; ++f) Ye(i, f) = Y.row(i)[f];
    for (int u = 0; u < 30; ++u)
        for (int f = 0; f < 5; ++f) Xe(u, f) = X.row(u)[f];
    Eigen::MatrixXd gram = Ye.transpose() * Ye;
    for (int f = 0; f < 5; ++f)
        for (int g = 0; g < 5; ++g) EXPECT_NEAR(gram(f, g), f == g ? exact.singularValues()(f) : 0.0, 1e-4 * exact.singularValues()(0));
    Eigen::MatrixXd V = exact.matrixV().leftCols(5);
    Eigen::MatrixXd expect = C * V * V.transpose();
    EXPECT_LT((Xe * Ye.transpose() - expect).norm(), 1e-4 * expect.norm());
    // Another thread count, same bits.
    Matrix X1, Y1;
    o.threads = 1;
    train_lsa(by_user, by_user.transpose(1), o, X1, Y1);
    for (int i = 0; i < 20; ++i)
        for (int f = 0; f < 5; ++f) EXPECT_EQ(Y1.row(i)[f], Y.row(i)[f]);
}

TEST(Lsa, RankDeficientMatrixGivesZeroColumns) {
    // Rank 1: one singular direction, the rest zero (no division by a zero singular value).
    std::vector<std::int32_t> r = {0, 0, 1, 1}, c = {0, 1, 0, 1};
    std::vector<float> v = {1, 2, 2, 4};
    auto m = Csr::from_triplets(3, 3, r, c, v, 1);
    Matrix X, Y;
    train_lsa(m, m.transpose(1), {.factors = 2, .oversample = 1, .threads = 1}, X, Y);
    for (int u = 0; u < 3; ++u) EXPECT_TRUE(std::isfinite(X.row(u)[1]));
    EXPECT_NEAR(X.row(0)[0] * Y.row(1)[0], 2.0, 1e-4);
}

TEST(Lsa, BadOptionsAreErrors) {
    Eigen::MatrixXd C;
    auto m = random_matrix(5, 4, 0.5, 1, C);
    Matrix X, Y;
    EXPECT_THROW(train_lsa(m, m.transpose(1), {.factors = 5}, X, Y), OptionError);
    EXPECT_THROW(train_lsa(m, m.transpose(1), {.factors = 0}, X, Y), OptionError);
    EXPECT_THROW(train_lsa(m, m.transpose(1), {.factors = 2, .power_iterations = -1}, X, Y), OptionError);
}

}  // namespace
}  // namespace encore
