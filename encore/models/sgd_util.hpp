#pragma once
// Small helpers shared by the SGD-trained models (bpr, lmf): a seeded generator per task.
#include <cstdint>

namespace encore::detail {

// splitmix64: tiny, statistically fine for sampling, and seeded per task so results do not depend on
// how tasks are scheduled.
struct Rng {
    std::uint64_t state;
    explicit Rng(std::uint64_t seed) : state(seed) {}
    Rng(std::uint64_t seed, std::uint64_t a, std::uint64_t b) : state(seed) {
        state = next() ^ (a * 0xD1B54A32D192ED03ull);
        state = next() ^ (b * 0x9E3779B97F4A7C15ull);
    }
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).
    std::uint64_t below(std::uint64_t n) {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }
    float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
};

}  // namespace encore::detail
