// BPR: training ranking accuracy rises well above chance; one thread is deterministic for a seed; the
// bias column stays fixed at 1 for users; bad options are errors.
#include "encore/models/bpr.hpp"

#include <random>

#include <gtest/gtest.h>

#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

// Two blocks: users 0..19 play items 0..14, users 20..39 items 15..29.
Csr blocks() { return testing::two_block_plays(2); }

TEST(Bpr, AccuracyRisesAndScoresSeparateTheBlocks) {
    auto m = blocks();
    BprOptions o{.factors = 8, .learning_rate = 0.05f, .iterations = 60, .seed = 3, .threads = 1};
    Matrix X, Y;
    BprReport report;
    train_bpr(m, o, X, Y, &report);
    ASSERT_EQ(report.accuracy.size(), 60u);
    EXPECT_LT(report.accuracy.front(), 0.7);
    EXPECT_GT(report.accuracy.back(), 0.9);
    for (std::int64_t u = 0; u < 40; ++u) EXPECT_EQ(X.row(u)[7], 1.0f);
    auto score = [&](int u, int i) {
        float s = 0;
        for (int f = 0; f < 8; ++f) s += X.row(u)[f] * Y.row(i)[f];
        return s;
    };
    int right = 0;
    for (int u = 0; u < 40; ++u)
        for (int a = 0; a < 15; ++a) {
            int own = u < 20 ? a : a + 15, other = u < 20 ? a + 15 : a;
            right += score(u, own) > score(u, other);
        }
    EXPECT_GT(right, 40 * 15 * 95 / 100);
    Matrix X2, Y2;
    train_bpr(m, o, X2, Y2);
    for (std::int64_t i = 0; i < 30; ++i)
        for (int f = 0; f < 8; ++f) EXPECT_EQ(Y.row(i)[f], Y2.row(i)[f]);
}

TEST(Bpr, MultiThreadedLearnsToo) {
    auto m = blocks();
    Matrix X, Y;
    BprReport report;
    train_bpr(m, {.factors = 8, .iterations = 60, .redraw_negatives = 3, .seed = 1, .threads = 2}, X, Y, &report);
    EXPECT_GT(report.accuracy.back(), 0.9);
    // Re-drawing played negatives skips far fewer samples than skipping at once (half the items are played).
    EXPECT_LT(report.skipped.back(), 0.1);
}

TEST(Bpr, BadOptionsAreErrors) {
    auto m = blocks();
    Matrix X, Y;
    EXPECT_THROW(train_bpr(m, {.factors = 1}, X, Y), OptionError);
    EXPECT_THROW(train_bpr(m, {.learning_rate = 0}, X, Y), OptionError);
    EXPECT_THROW(train_bpr(m, {.regularization = -1}, X, Y), OptionError);
}

}  // namespace
}  // namespace encore
