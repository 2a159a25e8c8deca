#pragma once
// Train/test splits for offline evaluation.
#include <cstdint>

#include "encore/data/csr.hpp"

namespace encore {

struct Split {
    Csr train;  // users x items, the values of the input
    Csr test;   // same shape; disjoint from train, train + test = input
};

// Each interaction goes to test with probability test_fraction, independently (as implicit's
// train_test_split). The coin of the interaction at non-zero position p is a hash of (seed, p), so the
// split is the same for any thread count (0 = all cores). Throws OptionError unless 0 < test_fraction < 1.
Split random_split(const Csr& by_user, double test_fraction, std::uint64_t seed, int threads = 0);

}  // namespace encore
