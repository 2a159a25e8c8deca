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

Csr Csr::from_triplets(std::int64_t rows, std::int64_t cols, std::span<const std::int32_t> row,
                       std::span<const std::int32_t> col, std::span<const float> value, int threads) {
    threads = resolve_threads(threads);
    const std::size_t n = row.size();
    if (col.size() != n || value.size() != n) fail("from_triplets: row/col/value lengths differ");
    // counting sort by row (stable), then sort + merge duplicates within each row
    std::vector<std::int64_t> count(static_cast<std::size_t>(rows) + 1, 0);
    for (std::size_t k = 0; k < n; ++k) {
        if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
            fail("from_triplets: entry {} ({}, {}) outside a {} x {} matrix", k, row[k], col[k], rows, cols);
        ++count[static_cast<std::size_t>(row[k]) + 1];
    }
    std::partial_sum(count.begin(), count.end(), count.begin());
    std::vector<std::int32_t> idx(n);
    std::vector<float> val(n);
    {
        std::vector<std::int64_t> pos(count.begin(), count.end() - 1);
        for (std::size_t k = 0; k < n; ++k) {
            auto p = static_cast<std::size_t>(pos[static_cast<std::size_t>(row[k])]++);
            idx[p] = col[k];
            val[p] = value[k];
        }
    }
    std::vector<std::int64_t> kept(static_cast<std::size_t>(rows), 0);
#pragma omp parallel num_threads(threads)
    {
        std::vector<std::pair<std::int32_t, float>> tmp;
#pragma omp for schedule(dynamic, 1024)
        for (std::int64_t r = 0; r < rows; ++r) {
            auto b = static_cast<std::size_t>(count[r]), e = static_cast<std::size_t>(count[r + 1]);
            tmp.clear();
            for (std::size_t k = b; k < e; ++k) tmp.emplace_back(idx[k], val[k]);
            std::sort(tmp.begin(), tmp.end(), [](auto& a, auto& c) { return a.first < c.first; });
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
            kept[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(w - b);
        }
    }
    // compact rows that lost duplicates
    std::vector<std::int64_t> indptr(static_cast<std::size_t>(rows) + 1, 0);
    for (std::int64_t r = 0; r < rows; ++r) indptr[r + 1] = indptr[r] + kept[r];
    if (indptr[rows] != static_cast<std::int64_t>(n)) {
        for (std::int64_t r = 0; r < rows; ++r) {
            auto src = static_cast<std::size_t>(count[r]), dst = static_cast<std::size_t>(indptr[r]);
            for (std::int64_t k = 0; k < kept[r]; ++k) {
                idx[dst + k] = idx[src + k];
                val[dst + k] = val[src + k];
            }
        }
        idx.resize(static_cast<std::size_t>(indptr[rows]));
        val.resize(static_cast<std::size_t>(indptr[rows]));
    }
    Csr m;
    m.rows = rows;
    m.cols = cols;
    m.indptr = Buffer<std::int64_t>(std::move(indptr));
    m.indices = Buffer<std::int32_t>(std::move(idx));
    m.values = Buffer<float>(std::move(val));
    return m;
}

Csr Csr::transpose(int threads) const {
    threads = resolve_threads(threads);
    const std::int64_t n = nnz();
    std::vector<std::int64_t> tptr(static_cast<std::size_t>(cols) + 1, 0);
    for (std::int64_t k = 0; k < n; ++k) ++tptr[static_cast<std::size_t>(indices[k]) + 1];
    std::partial_sum(tptr.begin(), tptr.end(), tptr.begin());
    std::vector<std::int32_t> tidx(static_cast<std::size_t>(n));
    std::vector<float> tval(static_cast<std::size_t>(n));
    // Rows visited in ascending order, so each output row's indices come out sorted.
    std::vector<std::int64_t> pos(tptr.begin(), tptr.end() - 1);
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
            auto c = static_cast<std::size_t>(indices[k]);
            auto p = static_cast<std::size_t>(pos[c]++);
            tidx[p] = static_cast<std::int32_t>(r);
            tval[p] = values[k];
        }
    }
    (void)threads;  // the scatter is memory-bound and order-dependent; kept serial for determinism
    Csr t;
    t.rows = cols;
    t.cols = rows;
    t.indptr = Buffer<std::int64_t>(std::move(tptr));
    t.indices = Buffer<std::int32_t>(std::move(tidx));
    t.values = Buffer<float>(std::move(tval));
    return t;
}

}  // namespace encore
