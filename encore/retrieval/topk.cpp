// Exact top-k by blocked GEMM + bounded selection.
//
// Queries are cut into blocks of up to kQueryBlock rows and targets into blocks of kTargetBlock rows, so
// one block of scores (queries x targets) stays in L2 between the GEMM that writes it and the selection
// that reads it. Each query keeps a min-heap of its k best; targets are visited in ascending id order, so
// a later candidate that only ties the current k-th can never win (ties go to the lower id) and the test
// for "may enter" is a single strict compare against the k-th score. Only the few candidates that pass
// it look at the allowed mask and the query's sorted excluded list (a merge walk whose cursor only moves
// forward, because ids only grow).
#include "encore/retrieval/topk.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "encore/kernels/half_scan.hpp"
#include "encore/kernels/score_gemm.hpp"
#include "encore/kernels/topk_scan.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

// 256 x 512 scores (512 KB) stay in L2 between the GEMM and the scan; 256 queries per block amortise
// packing each target block (measured on AVX-512: 64 x 2048 cost ~10% more).
constexpr std::int64_t kQueryBlock = 256;
constexpr std::int64_t kTargetBlock = 512;
// Heaps of all queries in a block share one buffer; with a huge k the block shrinks to keep it bounded.
constexpr std::int64_t kHeapBudget = std::int64_t{1} << 22;
// A single query's re-rank after the half-precision scan scores rows as score_contiguous scored them
// in blocks of kTargetBlock: the same as one call over all rows while no block boundary splits a
// group of eight (score_contiguous_at).
static_assert(kTargetBlock % 8 == 0);
// The half-precision scan: from this many rows (below, the float32 rows stay in cache anyway), for k
// up to rows / kHalfMaxKShare (a big k re-ranks a big share of the rows), kHalfBlock rows of
// approximate scores at a time (2 KB, in L1 for the selection right after).
constexpr std::int64_t kHalfMinRows = 4096;
constexpr std::int64_t kHalfMaxKShare = 64;
constexpr std::int64_t kHalfBlock = 512;

// a ranks strictly below b: lower score, or the same score and a higher id.
inline bool worse(const ScoredItem& a, const ScoredItem& b) {
    return a.score < b.score || (a.score == b.score && a.id > b.id);
}

// The k best seen so far for one query; heap[0] is the worst kept.
struct Selection {
    ScoredItem* heap = nullptr;
    std::int32_t k = 0, size = 0;
    std::span<const std::int32_t> excluded;
    std::size_t excluded_pos = 0;

    bool full() const { return size == k; }
    // A candidate must score strictly above this to enter (valid only when full()).
    float threshold() const { return heap[0].score; }

    bool is_excluded(std::int32_t id) {
        while (excluded_pos < excluded.size() && excluded[excluded_pos] < id) ++excluded_pos;
        return excluded_pos < excluded.size() && excluded[excluded_pos] == id;
    }

    void push(std::int32_t id, float score) {
        if (std::isnan(score)) score = -std::numeric_limits<float>::infinity();  // keeps the order total
        ScoredItem item{id, score};
        if (size < k) {  // sift up
            std::int32_t i = size++;
            while (i > 0) {
                std::int32_t parent = (i - 1) / 2;
                if (!worse(item, heap[parent])) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = item;
            return;
        }
        if (!worse(heap[0], item)) return;
        std::int32_t i = 0;  // replace the root, sift down
        for (;;) {
            std::int32_t child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && worse(heap[child + 1], heap[child])) ++child;
            if (!worse(heap[child], item)) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }

    std::vector<ScoredItem> sorted() const {
        std::vector<ScoredItem> out(heap, heap + size);
        std::sort(out.begin(), out.end(), [](const ScoredItem& a, const ScoredItem& b) { return worse(b, a); });
        return out;
    }
};

// Where the targets really are: the caller's matrix, or a compacted copy of the allowed rows.
struct TargetSet {
    const Matrix* matrix = nullptr;
    std::span<const std::int32_t> ids;        // local row -> target id; empty = identity
    std::span<const std::uint8_t> allowed;    // still to check; empty = all allowed
};

// A target kept by the low-precision pass for the exact re-rank: its row in the target set and its
// bf16 score.
struct Candidate {
    std::int32_t local;
    float score;
};

// The low-precision pass's candidates for one query: everything offered that scored within margin of
// the current bf16 k-th. The k-th only rises, so from time to time the ones that fell out are dropped.
struct CandidateList {
    std::vector<Candidate> items;
    float margin = 0;
    std::size_t cap = 0;

    void reset(float m, std::int32_t k) {
        items.clear();
        margin = m;
        cap = static_cast<std::size_t>(std::max(64, 4 * k));
    }
    void add(std::int32_t local, float score, const Selection& sel) {
        items.push_back({local, score});
        if (items.size() > cap && sel.full()) {
            const float keep = sel.threshold() - margin;
            std::erase_if(items, [&](const Candidate& c) { return !(c.score > keep); });
            if (items.size() > cap / 2) cap *= 2;  // dense scores: grow instead of compacting again soon
        }
    }
};

// Offers one block of scores (targets [t0, t0 + count) of the set) to a query's selection. With a
// candidate list (low-precision pass) the bar is the k-th minus the list's margin, and every offered
// target is also recorded for the re-rank.
inline void select_block(Selection& sel, const float* scores, std::int64_t t0, std::int64_t count,
                         const TargetSet& set, CandidateList* cand = nullptr) {
    const float margin = cand ? cand->margin : 0.0f;
    auto offer = [&](std::int64_t j) {
        std::int64_t local = t0 + j;
        auto id = set.ids.empty() ? static_cast<std::int32_t>(local) : set.ids[static_cast<std::size_t>(local)];
        if (!set.allowed.empty() && !set.allowed[static_cast<std::size_t>(id)]) return;
        if (sel.is_excluded(id)) return;
        if (cand) cand->add(static_cast<std::int32_t>(local), scores[j], sel);
        sel.push(id, scores[j]);
    };
    std::int64_t j = 0;
    while (j < count && !sel.full()) offer(j++);  // filling: every allowed candidate enters
    if (sel.k == 0) return;
    constexpr std::int64_t W = kernels::kScanWidth;
    for (; j < count && j % W != 0; ++j)
        if (scores[j] > sel.threshold() - margin) offer(j);
    for (; j + W <= count; j += W) {
        // One vector compare rejects a whole chunk in the common case; otherwise visit only the set
        // bits, re-checking each against the threshold as it rises.
        std::uint32_t mask = kernels::greater_mask(scores + j, sel.threshold() - margin);
        while (mask != 0) {
            const std::int64_t i = j + std::countr_zero(mask);
            mask &= mask - 1;
            if (scores[i] > sel.threshold() - margin) offer(i);
        }
    }
    for (; j < count; ++j)
        if (scores[j] > sel.threshold() - margin) offer(j);
}

// Whether the bf16 candidate pass may be used on these vectors: the kernel is compiled in, the
// dimension is within the error bound's range, and every value is finite and within the bound's
// assumed range.
bool bf16_usable(const Matrix& queries, const Matrix& targets, int threads) {
    if (!kernels::has_bf16_scores() || targets.stride() > kernels::kMaxBf16Dim) return false;
    const float limit = kernels::kMaxBf16Value;
    bool ok = true;
    for (const Matrix* m : {&queries, &targets}) {
        const std::int64_t n = m->rows(), dim = m->cols();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(&& : ok) if (n * dim >= (1 << 18))
        for (std::int64_t r = 0; r < n; ++r) {
            const float* row = m->row(r);
            for (std::int64_t j = 0; j < dim; ++j) ok = ok && std::fabs(row[j]) <= limit;  // NaN fails too
        }
    }
    return ok;
}

void check_filter(const TopKFilter& filter, std::int64_t n_targets) {
    if (!filter.allowed.empty() && static_cast<std::int64_t>(filter.allowed.size()) != n_targets)
        fail("top-k: allowed mask has {} entries for {} targets", filter.allowed.size(), n_targets);
}

// The shared core: rows [0, queries.rows()) of queries, reported to the filter as query_offset + row.
std::vector<std::vector<ScoredItem>> top_k_core(const Matrix& queries, const Matrix& targets,
                                                const TopKFilter& filter, int k, int threads,
                                                Progress* progress, std::int64_t query_offset, bool low_precision,
                                                const std::atomic<bool>* cancel = nullptr) {
    if (queries.cols() != targets.cols())
        fail("top-k: queries have {} columns but targets have {}", queries.cols(), targets.cols());
    const std::int64_t nq = queries.rows(), nt = targets.rows(), dim = queries.cols();
    check_filter(filter, nt);
    std::vector<std::vector<ScoredItem>> results(static_cast<std::size_t>(nq));
    if (nq == 0) return results;

    // With a mask and many queries, score only the allowed rows: a copy costs one pass over the
    // targets, the GEMM it saves costs a pass per query.
    TargetSet set{&targets, {}, filter.allowed};
    Matrix compact;
    std::vector<std::int32_t> compact_ids;
    if (!filter.allowed.empty() && nq >= 16) {
        for (std::int64_t t = 0; t < nt; ++t)
            if (filter.allowed[static_cast<std::size_t>(t)]) compact_ids.push_back(static_cast<std::int32_t>(t));
        if (static_cast<std::int64_t>(compact_ids.size()) < nt) {
            compact = Matrix(static_cast<std::int64_t>(compact_ids.size()), dim);
            for (std::size_t r = 0; r < compact_ids.size(); ++r)
                std::memcpy(compact.row(static_cast<std::int64_t>(r)), targets.row(compact_ids[r]),
                            static_cast<std::size_t>(dim) * sizeof(float));
            set = TargetSet{&compact, compact_ids, {}};
        } else {
            set.allowed = {};  // everything allowed
        }
    }
    const Matrix& T = *set.matrix;
    const std::int64_t n_set = T.rows();
    const std::int32_t keff = static_cast<std::int32_t>(std::clamp<std::int64_t>(k, 0, n_set));
    // Smaller blocks when there are few queries, so that they still spread over threads; the size
    // depends on the problem only, never on the thread count, so results do not either.
    const std::int64_t spread = std::clamp<std::int64_t>((nq + 8 * 16 - 1) / (8 * 16) * 16, 16, kQueryBlock);
    const std::int64_t qblock =
        std::clamp<std::int64_t>(kHeapBudget / std::max<std::int64_t>(keff, 1), 1, spread);
    const std::int64_t tblock = std::min<std::int64_t>(kTargetBlock, std::max<std::int64_t>(n_set, 1));
    const std::int64_t n_blocks = (nq + qblock - 1) / qblock;
    threads = static_cast<int>(std::min<std::int64_t>(resolve_threads(threads), n_blocks));

    // With many queries, the targets packed once into the scoring kernel's panels (one pass over
    // them; a few queries read the targets once or twice, so there each query streams the rows).
    const bool packed = nq >= 64 && queries.stride() == T.stride();
    // The bf16 candidate pass + exact re-rank (same results, see score_gemm.hpp) where it runs.
    const bool bf16 = packed && low_precision && keff > 0 && bf16_usable(queries, T, threads);
    kernels::PackedTargets P;
    kernels::PackedTargetsBf16 Pb;
    if (bf16) {
        Pb = kernels::PackedTargetsBf16(T, threads);
    } else if (packed) {
        P = kernels::PackedTargets(T, threads);
    }

#pragma omp parallel num_threads(threads)
    {
        // Per-thread buffers, allocated once and reused for every block.
        std::vector<float> scores(static_cast<std::size_t>(qblock * tblock));
        std::vector<ScoredItem> heaps(static_cast<std::size_t>(qblock) * static_cast<std::size_t>(keff));
        std::vector<Selection> sel(static_cast<std::size_t>(qblock));
        std::vector<CandidateList> cand(bf16 ? static_cast<std::size_t>(qblock) : 0);
        std::vector<std::uint32_t> qpack;
        std::vector<const float*> rows;  // the re-rank's candidates
        std::vector<std::int32_t> ids;
        std::vector<float> exact_scores;

#pragma omp for schedule(dynamic, 1)
        for (std::int64_t b = 0; b < n_blocks; ++b) {
            if (cancel && cancel->load(std::memory_order_relaxed)) continue;
            const std::int64_t q0 = b * qblock, qn = std::min(qblock, nq - q0);
            for (std::int64_t q = 0; q < qn; ++q) {
                auto& s = sel[static_cast<std::size_t>(q)];
                s = Selection{heaps.data() + q * keff, keff, 0, {}, 0};
                if (filter.excluded) s.excluded = filter.excluded(query_offset + q0 + q);
                if (bf16) {
                    const double eps = kernels::bf16_error_bound(
                        kernels::bf16_norms(queries.row(q0 + q), queries.stride()), Pb.max_norms());
                    // The float margin is rounded up from the double one, so it stays a bound.
                    cand[static_cast<std::size_t>(q)].reset(static_cast<float>(2.0 * eps * (1 + 0x1p-20)), keff);
                }
            }
            if (bf16) kernels::pack_queries_bf16(queries.row(q0), queries.stride(), qn, T.stride(), qpack);
            if (keff > 0) {
                for (std::int64_t t0 = 0; t0 < n_set; t0 += tblock) {
                    const std::int64_t tn = std::min(tblock, n_set - t0);
                    // Either way, query q's scores land contiguous at scores + q * tblock.
                    if (bf16) {
                        kernels::score_block_bf16(qpack.data(), qn, Pb, t0, tn, scores.data(), tblock);
                    } else if (packed) {
                        kernels::score_block(queries.row(q0), queries.stride(), qn, P, t0, tn, scores.data(), tblock);
                    } else {
                        // Few queries: each streams the block (in L2 after the first) at memory speed.
                        for (std::int64_t q = 0; q < qn; ++q)
                            kernels::score_contiguous(queries.row(q0 + q), T.row(t0), T.stride(), tn, dim,
                                                      scores.data() + q * tblock);
                    }
                    for (std::int64_t q = 0; q < qn; ++q)
                        select_block(sel[static_cast<std::size_t>(q)], scores.data() + q * tblock, t0, tn, set,
                                     bf16 ? &cand[static_cast<std::size_t>(q)] : nullptr);
                }
            }
            if (bf16) {
                // The exact re-rank: every candidate still within the margin of the final bf16 k-th,
                // scored exactly as the float32 path scores it, into a fresh selection.
                for (std::int64_t q = 0; q < qn; ++q) {
                    auto& s = sel[static_cast<std::size_t>(q)];
                    const auto& c = cand[static_cast<std::size_t>(q)];
                    const float keep = s.full() ? s.threshold() - c.margin : -std::numeric_limits<float>::infinity();
                    rows.clear();
                    ids.clear();
                    for (const Candidate& x : c.items) {
                        if (!(x.score > keep)) continue;
                        rows.push_back(T.row(x.local));
                        ids.push_back(set.ids.empty() ? x.local : set.ids[static_cast<std::size_t>(x.local)]);
                    }
                    exact_scores.resize(rows.size());
                    kernels::score_rows(queries.row(q0 + q), rows.data(), static_cast<std::int64_t>(rows.size()),
                                        T.stride(), exact_scores.data());
                    Selection exact{heaps.data() + q * keff, keff, 0, {}, 0};
                    for (std::size_t i = 0; i < ids.size(); ++i) exact.push(ids[i], exact_scores[i]);
                    s = exact;
                }
            }
            for (std::int64_t q = 0; q < qn; ++q)
                results[static_cast<std::size_t>(q0 + q)] = sel[static_cast<std::size_t>(q)].sorted();
            if (progress) progress->add(static_cast<double>(qn));
        }
    }
    return results;
}

// A row the half-precision scan keeps for the exact re-rank, with the upper end of its reach.
struct HalfCandidate {
    std::int32_t row;
    float upper;
};

// top_k_one over a half-precision copy (see kernels/half_scan.hpp): every row's exact score lies in
// its reach [lower, upper] around its approximate score. tau, the k-th largest lower end among the
// rows that may be returned, is at most the exact k-th score; a row of the exact top k (ties
// included) therefore has upper >= its exact score >= tau at every step, and is kept. The kept rows
// are scored exactly, as the float32 pass scores them, and selected with the same rule.
std::vector<ScoredItem> top_k_one_half(const float* q, const Matrix& T, const kernels::HalfRows& H, float scale,
                                       const TopKFilter& filter, std::int32_t keff, std::int64_t query_index) {
    const std::int64_t n = T.rows();
    const float* bounds = H.bounds();
    Selection filter_walk{nullptr, keff, 0, {}, 0};  // only its excluded-list cursor
    if (filter.excluded) filter_walk.excluded = filter.excluded(query_index);
    std::vector<float> lower;  // min-heap of the keff largest lower ends
    lower.reserve(static_cast<std::size_t>(keff));
    float tau = -std::numeric_limits<float>::infinity();
    std::vector<HalfCandidate> cand;
    std::size_t cap = static_cast<std::size_t>(std::max(256, 8 * keff));
    cand.reserve(cap);
    alignas(64) float s[kHalfBlock];
    for (std::int64_t r0 = 0; r0 < n; r0 += kHalfBlock) {
        const std::int64_t nb = std::min(kHalfBlock, n - r0);
        kernels::half_scores(q, H, r0, nb, s);
        for (std::int64_t j = 0; j < nb; j += kernels::kHalfPanel) {
            std::uint32_t mask = kernels::reach_mask(s + j, bounds + r0 + j, scale, tau);
            if (nb - j < kernels::kHalfPanel) mask &= (1u << (nb - j)) - 1;
            while (mask != 0) {  // rare once tau has risen: the rows that may still reach it
                const std::int64_t i = j + std::countr_zero(mask);
                mask &= mask - 1;
                const auto r = static_cast<std::int32_t>(r0 + i);
                const float up = kernels::half_upper(s[i], bounds[r], scale);
                if (!(up >= tau)) continue;  // tau rose within the chunk
                if (!filter.allowed.empty() && !filter.allowed[static_cast<std::size_t>(r)]) continue;
                if (filter_walk.is_excluded(r)) continue;
                cand.push_back({r, up});
                const float lo = kernels::half_lower(s[i], bounds[r], scale);
                if (static_cast<std::int32_t>(lower.size()) < keff) {
                    lower.push_back(lo);
                    std::push_heap(lower.begin(), lower.end(), std::greater<>());
                    if (static_cast<std::int32_t>(lower.size()) == keff) tau = lower.front();
                } else if (lo > lower.front()) {
                    std::pop_heap(lower.begin(), lower.end(), std::greater<>());
                    lower.back() = lo;
                    std::push_heap(lower.begin(), lower.end(), std::greater<>());
                    tau = lower.front();
                }
                if (cand.size() > cap) {  // drop the ones tau has passed
                    std::erase_if(cand, [tau](const HalfCandidate& x) { return !(x.upper >= tau); });
                    if (cand.size() > cap / 2) cap *= 2;
                }
            }
        }
    }
    std::vector<std::int32_t> rows;
    rows.reserve(cand.size());
    for (const HalfCandidate& x : cand)
        if (x.upper >= tau) rows.push_back(x.row);
    std::vector<float> exact(rows.size());
    kernels::score_contiguous_at(q, T.row(0), T.stride(), n, T.cols(), rows.data(),
                                 static_cast<std::int64_t>(rows.size()), exact.data());
    std::vector<ScoredItem> heap(static_cast<std::size_t>(keff));
    Selection best{heap.data(), keff, 0, {}, 0};
    for (std::size_t i = 0; i < rows.size(); ++i) best.push(rows[i], exact[i]);
    return best.sorted();
}

}  // namespace

bool half_scan_pays(const Matrix& targets) {
    return targets.rows() >= kHalfMinRows && targets.cols() >= 1 && targets.cols() <= kernels::kMaxHalfDim;
}

QueryRows query_rows(const TopKOptions& options, std::int64_t rows) {
    const std::int64_t last = options.count < 0 ? rows : options.first + options.count;
    if (options.first < 0 || options.first > rows || last > rows || options.count < -1)
        fail("query rows {}..{} out of range ({} rows)", options.first, last, rows);
    return {options.first, last};
}

std::vector<std::vector<ScoredItem>> top_k_rows(const Matrix& queries, const Matrix& targets,
                                                const TopKFilter& filter, const TopKOptions& options) {
    const auto range = query_rows(options, queries.rows());
    // A slice is a view of its rows; the offset keeps the filter's query numbers absolute.
    const Matrix slice = Matrix::view(const_cast<float*>(queries.row(range.first)), range.size(), queries.cols(),
                                      queries.stride(), nullptr);
    auto results = top_k_core(range.all(queries.rows()) ? queries : slice, targets, filter, options.k,
                              options.threads, options.progress, range.first, options.low_precision, options.cancel);
    if (options.cancel && options.cancel->load()) throw Cancelled();
    return results;
}

std::vector<ScoredItem> top_k_one(std::span<const float> query, const Matrix& targets, const TopKFilter& filter,
                                  int k, std::int64_t query_index, const kernels::HalfRows* half) {
    if (static_cast<std::int64_t>(query.size()) != targets.cols())
        fail("top-k: query has {} values but targets have {} columns", query.size(), targets.cols());
    const std::int64_t nt = targets.rows();
    const auto keff = static_cast<std::int32_t>(std::clamp<std::int64_t>(k, 0, nt));
    if (half && keff > 0 && keff <= nt / kHalfMaxKShare && half_scan_pays(targets)) {
        if (half->rows() != nt || half->dim() != targets.cols())
            fail("top-k: half-precision copy has {} x {} values for {} x {} targets", half->rows(), half->dim(), nt,
                 targets.cols());
        check_filter(filter, nt);
        const float scale = kernels::half_query_scale(query.data(), *half);
        if (scale > 0) return top_k_one_half(query.data(), targets, *half, scale, filter, keff, query_index);
    }
    Matrix q(1, targets.cols());
    std::copy(query.begin(), query.end(), q.row(0));
    return std::move(top_k_core(q, targets, filter, k, 1, nullptr, query_index, false)[0]);
}

Matrix normalized_rows(const Matrix& m, int threads) {
    Matrix out = m.clone();
    const std::int64_t n = out.rows(), dim = out.cols();
    threads = resolve_threads(threads);
    // Small matrices: a parallel region costs more than the work.
#pragma omp parallel for num_threads(threads) schedule(static) if (n * dim >= (1 << 18))
    for (std::int64_t i = 0; i < n; ++i) {
        float* r = out.row(i);
        double norm2 = 0;
        for (std::int64_t j = 0; j < dim; ++j) norm2 += static_cast<double>(r[j]) * r[j];
        if (norm2 > 0) {
            const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
            for (std::int64_t j = 0; j < dim; ++j) r[j] *= inv;
        }
    }
    return out;
}

}  // namespace encore
