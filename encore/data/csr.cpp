#include "encore/data/csr.hpp"

#include <algorithm>
#include <numeric>

#include <omp.h>

#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

float Csr::at(std::int64_t r, std::int32_t c) const {
    auto idx = row_indices(r);
    auto it = std::lower_bound(idx.begin(), idx.end(), c);
    if (it == idx.end() || *it != c) return 0.0f;
    return row_values(r)[static_cast<std::size_t>(it - idx.begin())];
}

Csr Csr::with_values(std::vector<float> new_values) const {
    if (static_cast<std::int64_t>(new_values.size()) != nnz())
        throw Error(fmt::format("with_values: {} values for {} non-zeros", new_values.size(), nnz()));
    Csr out = *this;
    out.values = Buffer<float>(std::move(new_values));
    return out;
}

void Csr::validate(const char* what) const {
    if (rows < 0 || cols < 0) fail("{}: negative shape", what);
    if (static_cast<std::int64_t>(indptr.size()) != rows + 1) fail("{}: indptr has {} entries for {} rows", what, indptr.size(), rows);
    if (indptr[0] != 0) fail("{}: indptr does not start at 0", what);
    std::int64_t n = indptr[static_cast<std::size_t>(rows)];
    if (static_cast<std::int64_t>(indices.size()) != n || static_cast<std::int64_t>(values.size()) != n)
        fail("{}: {} indices / {} values for {} non-zeros", what, indices.size(), values.size(), n);
    for (std::int64_t r = 0; r < rows; ++r) {
        if (indptr[r + 1] < indptr[r]) fail("{}: indptr decreases at row {}", what, r);
        std::int32_t prev = -1;
        for (std::int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
            std::int32_t c = indices[static_cast<std::size_t>(k)];
            if (c <= prev || c >= cols) fail("{}: row {} has a column index out of order or range ({})", what, r, c);
            prev = c;
        }
    }
}

namespace {

// Splits [0, n) into `parts` contiguous ranges; range t is [bounds[t], bounds[t + 1]).
std::vector<std::int64_t> even_bounds(std::int64_t n, int parts) {
    std::vector<std::int64_t> b(static_cast<std::size_t>(parts) + 1);
    for (int t = 0; t <= parts; ++t) b[static_cast<std::size_t>(t)] = n * t / parts;
    return b;
}

// Parallel stable counting sort of `n` entries into `buckets` buckets. key(k) is entry k's bucket;
// entries are visited in the order of the ranges in `bounds`, thread t taking range t, so within a bucket
// entries keep their original order whatever the thread count. Returns the bucket pointer (buckets + 1)
// and calls place(k, position, range) for every entry, ranges in parallel.
template <typename Key, typename Place>
std::vector<std::int64_t> parallel_bucket(std::int64_t buckets, const std::vector<std::int64_t>& bounds, Key key,
                                          Place place) {
    const int parts = static_cast<int>(bounds.size()) - 1;
    std::vector<std::vector<std::int64_t>> pos(static_cast<std::size_t>(parts));
    // A loop over ranges (not thread ids) so a smaller team than asked for still covers every range.
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t) {
        auto& c = pos[static_cast<std::size_t>(t)];
        c.assign(static_cast<std::size_t>(buckets), 0);
        for (std::int64_t k = bounds[t]; k < bounds[t + 1]; ++k) ++c[static_cast<std::size_t>(key(k))];
    }
    std::vector<std::int64_t> ptr(static_cast<std::size_t>(buckets) + 1, 0);
    for (std::int64_t b = 0; b < buckets; ++b) {
        std::int64_t at = ptr[static_cast<std::size_t>(b)];
        for (int t = 0; t < parts; ++t) {
            auto& c = pos[static_cast<std::size_t>(t)][static_cast<std::size_t>(b)];
            std::int64_t count = c;
            c = at;  // becomes thread t's next write position in bucket b
            at += count;
        }
        ptr[static_cast<std::size_t>(b) + 1] = at;
    }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t) {
        auto& c = pos[static_cast<std::size_t>(t)];
        for (std::int64_t k = bounds[t]; k < bounds[t + 1]; ++k) place(k, c[static_cast<std::size_t>(key(k))]++, t);
    }
    return ptr;
}

}  // namespace

Csr Csr::from_triplets(std::int64_t rows, std::int64_t cols, std::span<const std::int32_t> row,
                       std::span<const std::int32_t> col, std::span<const float> value, int threads) {
    threads = resolve_threads(threads);
    const auto n = static_cast<std::int64_t>(row.size());
    if (static_cast<std::int64_t>(col.size()) != n || static_cast<std::int64_t>(value.size()) != n)
        fail("from_triplets: row/col/value lengths differ");
    for (std::int64_t k = 0; k < n; ++k)
        if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
            fail("from_triplets: entry {} ({}, {}) outside a {} x {} matrix", k, row[k], col[k], rows, cols);
    auto idx = Buffer<std::int32_t>::uninitialized(static_cast<std::size_t>(n));
    auto val = Buffer<float>::uninitialized(static_cast<std::size_t>(n));
    auto count = parallel_bucket(rows, even_bounds(n, threads), [&](std::int64_t k) { return row[k]; },
                                 [&](std::int64_t k, std::int64_t p, int) {
                                     idx[static_cast<std::size_t>(p)] = col[k];
                                     val[static_cast<std::size_t>(p)] = value[k];
                                 });
    // Sort each row by column and sum duplicates in place (rows are short; a small sort each).
    std::vector<std::int64_t> kept(static_cast<std::size_t>(rows), 0);
#pragma omp parallel num_threads(threads)
    {
        std::vector<std::pair<std::int32_t, float>> tmp;
#pragma omp for schedule(dynamic, 1024)
        for (std::int64_t r = 0; r < rows; ++r) {
            auto b = static_cast<std::size_t>(count[r]), e = static_cast<std::size_t>(count[r + 1]);
            bool sorted = true;
            for (std::size_t k = b + 1; k < e && sorted; ++k) sorted = idx[k - 1] < idx[k];
            if (!sorted) {
                tmp.clear();
                for (std::size_t k = b; k < e; ++k) tmp.emplace_back(idx[k], val[k]);
                std::stable_sort(tmp.begin(), tmp.end(), [](auto& a, auto& c) { return a.first < c.first; });
                std::size_t w = b;
                for (std::size_t k = 0; k < tmp.size(); ++k) {
                    if (w > b && idx[w - 1] == tmp[k].first) {
                        val[w - 1] += tmp[k].second;
                    } else {
                        idx[w] = tmp[k].first;
                        val[w] = tmp[k].second;
                        ++w;
                    }
                }
                e = w;
            }
            kept[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(e - b);
        }
    }
    std::vector<std::int64_t> indptr(static_cast<std::size_t>(rows) + 1, 0);
    for (std::int64_t r = 0; r < rows; ++r) indptr[r + 1] = indptr[r] + kept[r];
    Csr m;
    m.rows = rows;
    m.cols = cols;
    if (indptr[rows] == n) {
        m.indices = std::move(idx);
        m.values = std::move(val);
    } else {  // duplicates were merged: compact the rows into fresh arrays
        auto cidx = Buffer<std::int32_t>::uninitialized(static_cast<std::size_t>(indptr[rows]));
        auto cval = Buffer<float>::uninitialized(static_cast<std::size_t>(indptr[rows]));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t k = 0; k < kept[r]; ++k) {
                cidx[static_cast<std::size_t>(indptr[r] + k)] = idx[static_cast<std::size_t>(count[r] + k)];
                cval[static_cast<std::size_t>(indptr[r] + k)] = val[static_cast<std::size_t>(count[r] + k)];
            }
        m.indices = std::move(cidx);
        m.values = std::move(cval);
    }
    m.indptr = Buffer<std::int64_t>(std::move(indptr));
    return m;
}

Csr Csr::transpose(int threads) const {
    threads = resolve_threads(threads);
    const std::int64_t n = nnz();
    // Each thread takes a contiguous range of rows holding about n / threads non-zeros; visiting rows in
    // order within and across ranges keeps every output row's indices sorted.
    std::vector<std::int64_t> bounds(static_cast<std::size_t>(threads) + 1, 0);
    for (int t = 1; t < threads; ++t) {
        const std::int64_t target = n * t / threads;
        bounds[static_cast<std::size_t>(t)] =
            std::upper_bound(indptr.begin(), indptr.end(), target) - indptr.begin() - 1;
    }
    bounds[static_cast<std::size_t>(threads)] = rows;
    // entry ranges follow the row ranges
    std::vector<std::int64_t> entry_bounds(bounds.size());
    for (std::size_t t = 0; t < bounds.size(); ++t) entry_bounds[t] = indptr[static_cast<std::size_t>(bounds[t])];
    auto tidx = Buffer<std::int32_t>::uninitialized(static_cast<std::size_t>(n));
    auto tval = Buffer<float>::uninitialized(static_cast<std::size_t>(n));
    // Per range, the current row while walking its entries in order.
    std::vector<std::int64_t> cur_row(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) cur_row[static_cast<std::size_t>(t)] = bounds[static_cast<std::size_t>(t)];
    auto tptr = parallel_bucket(
        cols, entry_bounds, [&](std::int64_t k) { return indices[static_cast<std::size_t>(k)]; },
        [&](std::int64_t k, std::int64_t p, int part) {
            auto& r = cur_row[static_cast<std::size_t>(part)];
            while (indptr[r + 1] <= k) ++r;
            tidx[static_cast<std::size_t>(p)] = static_cast<std::int32_t>(r);
            tval[static_cast<std::size_t>(p)] = values[static_cast<std::size_t>(k)];
        });
    Csr t;
    t.rows = cols;
    t.cols = rows;
    t.indptr = Buffer<std::int64_t>(std::move(tptr));
    t.indices = std::move(tidx);
    t.values = std::move(tval);
    return t;
}

}  // namespace encore
