#pragma once
// Csr: a compressed sparse row matrix (indptr int64, column indices int32 sorted within each row,
// values float32). Datasets keep one by user and one by item; weighting produces new ones.
#include <cstdint>
#include <span>
#include <vector>

#include "encore/data/buffer.hpp"

namespace encore {

struct Csr {
    std::int64_t rows = 0, cols = 0;
    Buffer<std::int64_t> indptr;   // rows + 1 entries
    Buffer<std::int32_t> indices;  // nnz, sorted ascending within each row, no duplicates
    Buffer<float> values;          // nnz

    std::int64_t nnz() const { return rows == 0 ? 0 : indptr[static_cast<std::size_t>(rows)]; }
    std::int64_t row_nnz(std::int64_t r) const { return indptr[r + 1] - indptr[r]; }
    std::span<const std::int32_t> row_indices(std::int64_t r) const {
        return indices.span().subspan(static_cast<std::size_t>(indptr[r]), static_cast<std::size_t>(row_nnz(r)));
    }
    std::span<const float> row_values(std::int64_t r) const {
        return values.span().subspan(static_cast<std::size_t>(indptr[r]), static_cast<std::size_t>(row_nnz(r)));
    }
    // Value at (r, c), 0 when absent (binary search in the row).
    float at(std::int64_t r, std::int32_t c) const;

    // Transpose (cols x rows), keeping indices sorted; parallel over threads (0 = all cores).
    Csr transpose(int threads = 0) const;
    // Same structure, new values (one per non-zero).
    Csr with_values(std::vector<float> new_values) const;
    // Throws encore::Error if the structure is inconsistent (used on load and in tests).
    void validate(const char* what) const;

    // Builds from coordinate triplets; entries with the same (row, col) are summed. Parallel.
    static Csr from_triplets(std::int64_t rows, std::int64_t cols, std::span<const std::int32_t> row,
                             std::span<const std::int32_t> col, std::span<const float> value, int threads = 0);
};

}  // namespace encore
