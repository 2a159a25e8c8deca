#pragma once
// Train/test splits for offline evaluation.
#include <cstdint>

#include "encore/data/csr.hpp"

namespace encore {

struct Split {
    Csr train;  // users x items, the values of the input
    Csr test;   // same shape; disjoint from train
};

// Each interaction goes to test with probability test_fraction, independently, from the seed (as
// implicit's train_test_split). Deterministic for a given seed.
Split random_split(const Csr& by_user, double test_fraction, std::uint64_t seed);

}  // namespace encore
