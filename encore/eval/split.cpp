#include "encore/eval/split.hpp"

#include <cmath>
#include <vector>

#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

// splitmix64's finaliser: a bijection on 64-bit words that mixes every input bit into every output bit.
std::uint64_t mix64(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

Split random_split(const Csr& by_user, double test_fraction, std::uint64_t seed, int threads) {
    if (!(test_fraction > 0.0 && test_fraction < 1.0))
        throw OptionError(fmt::format("test-fraction must be between 0 and 1 (exclusive), got {}", test_fraction));
    threads = resolve_threads(threads);
    const std::int64_t rows = by_user.rows;
    const std::int64_t nnz = by_user.nnz();
    // Compare the top 53 bits of the hash with the fraction scaled to the same range: exact, no floats
    // per interaction.
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(test_fraction, 53));
    const std::uint64_t key = mix64(seed ^ 0x5eed5b1170000000ULL);
    std::vector<std::uint8_t> to_test(static_cast<std::size_t>(nnz));
    std::vector<std::int64_t> test_ptr(static_cast<std::size_t>(rows) + 1, 0);
    std::vector<std::int64_t> train_ptr(static_cast<std::size_t>(rows) + 1, 0);

#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
    for (std::int64_t r = 0; r < rows; ++r) {
        std::int64_t n_test = 0;
        for (std::int64_t p = by_user.indptr[r]; p < by_user.indptr[r + 1]; ++p) {
            bool t = (mix64(key + static_cast<std::uint64_t>(p)) >> 11) < threshold;
            to_test[static_cast<std::size_t>(p)] = t;
            n_test += t;
        }
        test_ptr[static_cast<std::size_t>(r) + 1] = n_test;
        train_ptr[static_cast<std::size_t>(r) + 1] = by_user.row_nnz(r) - n_test;
    }
    for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) {
        test_ptr[r + 1] += test_ptr[r];
        train_ptr[r + 1] += train_ptr[r];
    }

    const auto n_test = static_cast<std::size_t>(test_ptr.back());
    const auto n_train = static_cast<std::size_t>(train_ptr.back());
    std::vector<std::int32_t> test_idx(n_test), train_idx(n_train);
    std::vector<float> test_val(n_test), train_val(n_train);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
    for (std::int64_t r = 0; r < rows; ++r) {
        auto a = static_cast<std::size_t>(test_ptr[static_cast<std::size_t>(r)]);
        auto b = static_cast<std::size_t>(train_ptr[static_cast<std::size_t>(r)]);
        for (std::int64_t p = by_user.indptr[r]; p < by_user.indptr[r + 1]; ++p) {
            auto q = static_cast<std::size_t>(p);
            if (to_test[q]) {
                test_idx[a] = by_user.indices[q];
                test_val[a++] = by_user.values[q];
            } else {
                train_idx[b] = by_user.indices[q];
                train_val[b++] = by_user.values[q];
            }
        }
    }

    Split out;
    for (auto* m : {&out.train, &out.test}) {
        m->rows = rows;
        m->cols = by_user.cols;
    }
    out.train.indptr = Buffer<std::int64_t>(std::move(train_ptr));
    out.train.indices = Buffer<std::int32_t>(std::move(train_idx));
    out.train.values = Buffer<float>(std::move(train_val));
    out.test.indptr = Buffer<std::int64_t>(std::move(test_ptr));
    out.test.indices = Buffer<std::int32_t>(std::move(test_idx));
    out.test.values = Buffer<float>(std::move(test_val));
    return out;
}

}  // namespace encore
