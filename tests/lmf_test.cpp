// LMF: the log-likelihood rises, played cells end up more probable than unplayed ones, the fixed bias
// columns stay 1, and the result does not depend on the thread count.
#include "encore/models/lmf.hpp"

#include <random>

#include <gtest/gtest.h>

#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

Csr blocks() { return testing::two_block_plays(5, 5); }

TEST(Lmf, LikelihoodRisesAndPlayedCellsScoreHigher) {
    auto m = blocks();
    auto t = m.transpose(1);
    LmfOptions o{.factors = 6, .iterations = 40, .negative_samples = 3, .seed = 2, .threads = 2};
    Matrix X, Y;
    LmfReport report;
    train_lmf(m, t, o, X, Y, &report);
    ASSERT_EQ(report.log_likelihood.size(), 40u);
    EXPECT_GT(report.log_likelihood.back(), report.log_likelihood.front());
    ASSERT_EQ(X.cols(), 8);
    for (std::int64_t u = 0; u < 40; ++u) EXPECT_EQ(X.row(u)[7], 1.0f);
    for (std::int64_t i = 0; i < 30; ++i) EXPECT_EQ(Y.row(i)[6], 1.0f);
    auto score = [&](int u, int i) {
        float s = 0;
        for (int f = 0; f < 8; ++f) s += X.row(u)[f] * Y.row(i)[f];
        return s;
    };
    int right = 0;
    for (int u = 0; u < 40; ++u)
        for (int a = 0; a < 15; ++a) right += score(u, u < 20 ? a : a + 15) > score(u, u < 20 ? a + 15 : a);
    EXPECT_GT(right, 40 * 15 * 95 / 100);
    Matrix X1, Y1;
    o.threads = 1;
    train_lmf(m, t, o, X1, Y1);
    for (std::int64_t i = 0; i < 30; ++i)
        for (int f = 0; f < 8; ++f) EXPECT_EQ(Y.row(i)[f], Y1.row(i)[f]);
}

TEST(Lmf, BadOptionsAreErrors) {
    auto m = blocks();
    auto t = m.transpose(1);
    Matrix X, Y;
    EXPECT_THROW(train_lmf(m, t, {.factors = 0}, X, Y), OptionError);
    EXPECT_THROW(train_lmf(m, t, {.learning_rate = -1}, X, Y), OptionError);
    EXPECT_THROW(train_lmf(m, t, {.negative_samples = -1}, X, Y), OptionError);
    EXPECT_THROW(train_lmf(m, m, {}, X, Y), Error);
}

}  // namespace
}  // namespace encore
