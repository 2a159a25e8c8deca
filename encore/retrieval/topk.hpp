#pragma once
// Exact top-k: the one scoring + selection path every query goes through. Queries and targets are
// factor matrices; scores = Q T^T computed in cache-sized blocks (GEMM), and each query keeps its k best
// with a partial selection that skips any score below its current k-th (so most candidates cost one
// compare). Filters are applied during selection, so every query returns exactly
// min(k, number of allowed targets) results — never padding.
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "encore/data/matrix.hpp"

namespace encore {

class Progress;
namespace kernels {
class HalfRows;
}

struct ScoredItem {
    std::int32_t id;
    float score;
};

struct TopKFilter {
    // Targets allowed at all (size = number of targets, nonzero = allowed); empty = all allowed.
    std::span<const std::uint8_t> allowed;
    // Per query, targets to skip, sorted ascending (e.g. the user's played items, or the query item
    // itself). Unset = none.
    std::function<std::span<const std::int32_t>(std::int64_t query)> excluded;
};

struct TopKOptions {
    int k = 10;
    int threads = 0;           // 0 = all cores
    Progress* progress = nullptr;  // advanced by the number of queries done
    // Many queries: pick candidates with bf16 dot products (AVX-512 BF16, where compiled in) and
    // re-rank them exactly. The results are identical either way (scores bit for bit); false forces
    // the float32 pass everywhere (for tests and comparisons).
    bool low_precision = true;
    // Set (from any thread) to stop early: blocks not yet started are skipped and top_k_rows throws
    // Cancelled. Null = cannot be cancelled.
    const std::atomic<bool>* cancel = nullptr;
    // Only the query rows [first, first + count) (count -1: to the last row); result[q] then answers
    // row first + q. Lets a long batch run in fixed slices (resumable, written as it goes) on the
    // blocked path. A slice of under 64 rows takes the few-query kernel, whose scores can differ from
    // the blocked kernel's in the last bit: fixed slice bounds give the same results every run.
    std::int64_t first = 0;
    std::int64_t count = -1;
};

// The query rows [first, last) options select out of rows; throws Error when they fall outside.
struct QueryRows {
    std::int64_t first, last;
    std::int64_t size() const { return last - first; }
    bool all(std::int64_t rows) const { return first == 0 && last == rows; }
};
QueryRows query_rows(const TopKOptions& options, std::int64_t rows);

// Top k targets for every row of queries, best first (ties: lower id first). Result[q] has
// min(k, allowed targets for q) entries.
std::vector<std::vector<ScoredItem>> top_k_rows(const Matrix& queries, const Matrix& targets,
                                                const TopKFilter& filter, const TopKOptions& options);

// Single query vector (length targets.cols()); same rules. With half, a half-precision copy of
// targets (kernels::HalfRows of the same matrix), where it pays (half_scan_pays, k at most 1/64 of
// the rows) and the error bound covers the query: the copy is scanned for every row whose exact score
// could reach the top k, and only those are scored from targets, exactly as the float32 pass scores
// them. The results are identical either way: same ids, same order, same scores bit for bit.
std::vector<ScoredItem> top_k_one(std::span<const float> query, const Matrix& targets, const TopKFilter& filter,
                                  int k, std::int64_t query_index = 0, const kernels::HalfRows* half = nullptr);

// Whether a half-precision copy of targets is worth keeping for top_k_one: enough rows that the scan
// is memory-bound, and a dimension the error bound covers.
bool half_scan_pays(const Matrix& targets);

// Row-normalised copy (cosine similarity = dot product of normalised rows); zero rows stay zero.
Matrix normalized_rows(const Matrix& m, int threads = 0);

}  // namespace encore
