#include "encore/retrieval/forest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <omp.h>

#include "encore/io/container.hpp"
#include "encore/kernels/distance.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

using ann_detail::SplitMix;

struct ForestHeader {
    std::int32_t trees;
    std::int32_t leaf_size;
    std::int64_t nodes;
    std::int64_t planes;
    std::int64_t items;
    std::uint8_t reserved[32];
};
static_assert(sizeof(ForestHeader) == 64);

struct Tree {
    std::vector<ForestIndex::Node> nodes;
    std::vector<float> planes;
    std::vector<std::int32_t> items;
};

constexpr int kTwoMeansSteps = 128;
constexpr int kSplitAttempts = 4;
// Candidates re-ranked exactly after the int8 scoring: the codes' error (about 1e-3 on unit
// vectors) reorders only near-ties, so a few times k covers the true top k.
constexpr int kRerankFactor = 3;
constexpr int kRerankExtra = 16;

// Unit normal and offset of the plane halfway between two centroids of [begin, end), found by a short
// online two-means run from two sampled items. False when the items cannot be told apart.
bool split_plane(const Matrix& x, const std::int32_t* ids, std::int64_t count, SplitMix& rng, float* normal,
                 float& offset) {
    const std::int64_t stride = x.stride();
    std::vector<float> c0(static_cast<std::size_t>(stride)), c1(static_cast<std::size_t>(stride));
    const std::int64_t i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(count)));
    std::int64_t j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(count - 1)));
    if (j >= i) ++j;
    std::copy_n(x.row(ids[i]), stride, c0.data());
    std::copy_n(x.row(ids[j]), stride, c1.data());
    double n0 = 1, n1 = 1;
    for (int step = 0; step < kTwoMeansSteps; ++step) {
        const float* p = x.row(ids[rng.below(static_cast<std::uint64_t>(count))]);
        const float d0 = kernels::squared_l2(p, c0.data(), stride) * static_cast<float>(n0 / (n0 + 1));
        const float d1 = kernels::squared_l2(p, c1.data(), stride) * static_cast<float>(n1 / (n1 + 1));
        auto& c = d0 < d1 ? c0 : c1;
        double& nc = d0 < d1 ? n0 : n1;
        const float w = static_cast<float>(1.0 / (nc + 1));
        for (std::int64_t t = 0; t < stride; ++t) c[t] += (p[t] - c[t]) * w;
        nc += 1;
    }
    double norm2 = 0, mid = 0;
    for (std::int64_t t = 0; t < stride; ++t) {
        normal[t] = c1[t] - c0[t];
        norm2 += static_cast<double>(normal[t]) * normal[t];
    }
    if (!(norm2 > 1e-24)) return false;
    const double inv = 1.0 / std::sqrt(norm2);
    for (std::int64_t t = 0; t < stride; ++t) {
        normal[t] = static_cast<float>(normal[t] * inv);
        mid += static_cast<double>(normal[t]) * 0.5 * (static_cast<double>(c0[t]) + c1[t]);
    }
    offset = static_cast<float>(-mid);
    return true;
}

Tree build_tree(const Matrix& x, int leaf_size, std::uint64_t seed) {
    Tree t;
    const std::int64_t n = x.rows(), stride = x.stride();
    t.items.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) t.items[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
    SplitMix rng(seed);
    std::vector<float> normal(static_cast<std::size_t>(stride));
    std::vector<std::uint8_t> side;
    struct Work {
        std::int32_t node;
        std::int64_t begin, end;
    };
    std::vector<Work> stack;
    t.nodes.push_back({0, static_cast<std::int32_t>(n), -1, 0.0f});
    stack.push_back({0, 0, n});
    while (!stack.empty()) {
        Work w = stack.back();
        stack.pop_back();
        const std::int64_t count = w.end - w.begin;
        std::int32_t* ids = t.items.data() + w.begin;
        if (count <= leaf_size) {
            t.nodes[static_cast<std::size_t>(w.node)] = {static_cast<std::int32_t>(w.begin), static_cast<std::int32_t>(count), -1, 0.0f};
            continue;
        }
        std::int64_t mid = -1;
        float offset = 0;
        for (int attempt = 0; attempt < kSplitAttempts && mid < 0; ++attempt) {
            if (!split_plane(x, ids, count, rng, normal.data(), offset)) continue;
            // Partition in place: left side (margin <= 0) first.
            std::int32_t* split = std::partition(ids, ids + count, [&](std::int32_t id) {
                return kernels::inner_product(normal.data(), x.row(id), stride) + offset <= 0.0f;
            });
            const std::int64_t left = split - ids;
            if (left > 0 && left < count) mid = left;
        }
        if (mid < 0) {  // identical items (or nearly): keep them together in one larger leaf
            t.nodes[static_cast<std::size_t>(w.node)] = {static_cast<std::int32_t>(w.begin), static_cast<std::int32_t>(count), -1, 0.0f};
            continue;
        }
        const auto plane = static_cast<std::int32_t>(t.planes.size() / static_cast<std::size_t>(stride));
        t.planes.insert(t.planes.end(), normal.begin(), normal.end());
        const auto left = static_cast<std::int32_t>(t.nodes.size());
        t.nodes.push_back({});
        t.nodes.push_back({});
        t.nodes[static_cast<std::size_t>(w.node)] = {left, left + 1, plane, offset};
        stack.push_back({left + 1, w.begin + mid, w.end});
        stack.push_back({left, w.begin, w.begin + mid});
    }
    return t;
}

}  // namespace

std::vector<std::int32_t> tree_order(const Matrix& x, int leaf_size, std::uint64_t seed) {
    return build_tree(x, leaf_size, seed).items;
}

std::unique_ptr<ForestIndex> ForestIndex::build(const Matrix& vectors, const IndexBuildOptions& options) {
    if (options.trees < 1 || options.trees > 10000)
        throw OptionError(fmt::format("trees must be 1..10000, got {}", options.trees));
    if (options.leaf_size < 2) throw OptionError(fmt::format("leaf-size must be at least 2, got {}", options.leaf_size));
    if (options.search_k < 0) throw OptionError(fmt::format("search-k must be at least 0, got {}", options.search_k));
    if (vectors.rows() >= std::numeric_limits<std::int32_t>::max() / 2)
        throw Error(fmt::format("{} vectors are too many for one index", vectors.rows()));
    std::unique_ptr<ForestIndex> index(new ForestIndex());
    index->init_common(vectors, options.metric, options.search_k > 0 ? options.search_k : 100 * options.trees,
                       options.seed, options.threads);
    index->leaf_size_ = options.leaf_size;
    const Matrix& x = index->vectors_;
    const std::int64_t n = x.rows(), stride = x.stride();

    std::vector<Tree> trees(static_cast<std::size_t>(options.trees));
    const int threads = resolve_threads(options.threads);
    // Each tree has its own generator: the forest depends on the seed, not on the thread count.
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int t = 0; t < options.trees; ++t) {
        trees[static_cast<std::size_t>(t)] =
            build_tree(x, options.leaf_size, options.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(t) + 1);
        if (options.progress) options.progress->add(1);
    }

    std::size_t total_nodes = 0, total_planes = 0;
    for (const auto& t : trees) {
        total_nodes += t.nodes.size();
        total_planes += t.planes.size() / static_cast<std::size_t>(stride);
    }
    if (total_nodes >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) ||
        static_cast<std::size_t>(n) * trees.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw OptionError(fmt::format("trees: {} trees over {} items do not fit one index; use fewer trees",
                                      options.trees, n));
    std::vector<std::int32_t> roots;
    std::vector<Node> nodes;
    std::vector<float> planes;
    std::vector<std::int32_t> items;
    nodes.reserve(total_nodes);
    planes.reserve(total_planes * static_cast<std::size_t>(stride));
    items.reserve(static_cast<std::size_t>(n) * trees.size());
    for (auto& t : trees) {
        const auto node_base = static_cast<std::int32_t>(nodes.size());
        const auto plane_base = static_cast<std::int32_t>(planes.size() / static_cast<std::size_t>(stride));
        const auto item_base = static_cast<std::int32_t>(items.size());
        roots.push_back(node_base);
        for (Node nd : t.nodes) {
            if (nd.plane >= 0) {
                nd.a += node_base;
                nd.b += node_base;
                nd.plane += plane_base;
            } else {
                nd.a += item_base;
            }
            nodes.push_back(nd);
        }
        planes.insert(planes.end(), t.planes.begin(), t.planes.end());
        items.insert(items.end(), t.items.begin(), t.items.end());
        t = Tree{};
    }
    index->roots_ = Buffer<std::int32_t>(std::move(roots));
    index->nodes_ = Buffer<Node>(std::move(nodes));
    index->planes_ = Buffer<float>(std::move(planes));
    index->items_ = Buffer<std::int32_t>(std::move(items));
    return index;
}

void ForestIndex::add_sections(ContainerWriter& out) const {
    ForestHeader h;
    std::memset(&h, 0, sizeof h);
    h.trees = trees();
    h.leaf_size = leaf_size_;
    h.nodes = static_cast<std::int64_t>(nodes_.size());
    h.planes = static_cast<std::int64_t>(planes_.size()) / vectors_.stride();
    h.items = static_cast<std::int64_t>(items_.size());
    out.add_text("forest_header", std::string(reinterpret_cast<const char*>(&h), sizeof h));
    out.add_array("forest_roots", roots_.span());
    out.add_array("forest_nodes", nodes_.span());
    out.add_array("forest_planes", planes_.span());
    out.add_array("forest_items", items_.span());
}

std::unique_ptr<ForestIndex> ForestIndex::open(const ContainerReader& in) {
    std::unique_ptr<ForestIndex> index(new ForestIndex());
    index->open_common(in);
    ForestHeader h;
    auto hs = in.array<const std::byte>("forest_header", sizeof(ForestHeader));
    std::memcpy(&h, hs.data(), sizeof h);
    const std::int64_t n = index->size(), stride = index->vectors_.stride();
    if (h.trees < 1 || h.leaf_size < 2 || h.nodes < h.trees || h.planes < 0 || h.items != n * h.trees)
        throw FormatError(in.path(), fmt::format("inconsistent forest header (trees {}, nodes {}, items {} for {} rows)",
                                                 h.trees, h.nodes, h.items, n));
    auto keep = in.file();
    index->leaf_size_ = h.leaf_size;
    index->roots_ = Buffer<std::int32_t>::view(in.array<std::int32_t>("forest_roots", static_cast<std::size_t>(h.trees)), keep);
    index->nodes_ = Buffer<Node>::view(in.array<Node>("forest_nodes", static_cast<std::size_t>(h.nodes)), keep);
    index->planes_ = Buffer<float>::view(in.array<float>("forest_planes", static_cast<std::size_t>(h.planes * stride)), keep);
    index->items_ = Buffer<std::int32_t>::view(in.array<std::int32_t>("forest_items", static_cast<std::size_t>(h.items)), keep);
    return index;
}

std::vector<ScoredItem> ForestIndex::search(std::span<const float> query, int k, int search) const {
    const Prepared q = prepare_query(query);
    const std::int64_t n = size();
    if (k < 0) fail("number of results must be at least 0, got {}", k);
    k = static_cast<int>(std::min<std::int64_t>(k, n));
    if (k == 0) return {};
    const std::int64_t search_k = std::max<std::int64_t>(search > 0 ? search : default_search_, k);
    const std::int64_t stride = vectors_.stride();
    const auto n_nodes = static_cast<std::int64_t>(nodes_.size());
    const auto n_planes = static_cast<std::int64_t>(planes_.size()) / stride;
    const auto n_items = static_cast<std::int64_t>(items_.size());

    auto& visited = ann_detail::VisitedSet::local();
    visited.begin(n);
    thread_local std::vector<std::pair<float, std::int32_t>> queue;
    thread_local std::vector<std::int32_t> candidates;
    queue.clear();
    candidates.clear();
    for (std::int32_t r : roots_) queue.emplace_back(std::numeric_limits<float>::infinity(), r);
    std::make_heap(queue.begin(), queue.end());
    // Ids read from the file are bounds-checked (an unverified file may be corrupted).
    while (!queue.empty() && static_cast<std::int64_t>(candidates.size()) < search_k) {
        std::pop_heap(queue.begin(), queue.end());
        const auto [priority, id] = queue.back();
        queue.pop_back();
        if (id < 0 || id >= n_nodes) continue;
        const Node& nd = nodes_[static_cast<std::size_t>(id)];
        if (nd.plane < 0) {
            const std::int64_t begin = nd.a, end = begin + nd.b;
            if (begin < 0 || nd.b < 0 || end > n_items) continue;
            for (std::int64_t p = begin; p < end; ++p) {
                const std::int32_t item = items_[static_cast<std::size_t>(p)];
                if (item >= 0 && item < n && !visited.test_and_set(static_cast<std::uint32_t>(item)))
                    candidates.push_back(item);
            }
            continue;
        }
        if (nd.plane >= n_planes) continue;
        const float margin =
            kernels::inner_product(q.exact, planes_.data() + static_cast<std::int64_t>(nd.plane) * stride, stride) + nd.offset;
        // Both children are popped soon or late; their 16-byte nodes are one scattered read each.
        __builtin_prefetch(nodes_.data() + std::clamp<std::int64_t>(nd.a, 0, n_nodes - 1));
        __builtin_prefetch(nodes_.data() + std::clamp<std::int64_t>(nd.b, 0, n_nodes - 1));
        queue.emplace_back(std::min(priority, margin), nd.b);
        std::push_heap(queue.begin(), queue.end());
        queue.emplace_back(std::min(priority, -margin), nd.a);
        std::push_heap(queue.begin(), queue.end());
    }

    // Score every candidate through its int8 code (one cache line each, prefetched a few ahead: they
    // are scattered), then re-rank the best few exactly.
    // Batches of 16 through the batched kernel, the next batch's lines requested first.
    constexpr std::size_t kBatch = 16;
    const std::size_t code_bytes = static_cast<std::size_t>(code_stride_);
    thread_local std::vector<ScoredItem> approx;
    approx.resize(candidates.size());
    const auto* ids = reinterpret_cast<const std::uint32_t*>(candidates.data());  // ids are >= 0
    for (std::size_t i = 0; i < std::min(kBatch, candidates.size()); ++i) kernels::prefetch_bytes(code(candidates[i]), code_bytes);
    float batch[kBatch];
    for (std::size_t i0 = 0; i0 < candidates.size(); i0 += kBatch) {
        const std::size_t m = std::min(kBatch, candidates.size() - i0);
        for (std::size_t i = i0 + kBatch; i < std::min(i0 + 2 * kBatch, candidates.size()); ++i)
            kernels::prefetch_bytes(code(candidates[i]), code_bytes);
        approx_scores(q, ids + i0, m, batch);
        for (std::size_t i = 0; i < m; ++i) approx[i0 + i] = {candidates[i0 + i], batch[i]};
    }
    const std::size_t rerank = std::min(candidates.size(), static_cast<std::size_t>(kRerankFactor * k + kRerankExtra));
    if (rerank < approx.size())
        std::nth_element(approx.begin(), approx.begin() + static_cast<std::ptrdiff_t>(rerank), approx.end(), ann_detail::better);
    const std::size_t row_bytes = static_cast<std::size_t>(vectors_.cols()) * sizeof(float);
    for (std::size_t i = 0; i < rerank; ++i) kernels::prefetch_bytes(vectors_.row(approx[i].id), row_bytes);
    std::vector<ScoredItem> scored(rerank);
    for (std::size_t i = 0; i < rerank; ++i) scored[i] = {approx[i].id, score(q.exact, approx[i].id)};
    const auto keep = std::min<std::size_t>(static_cast<std::size_t>(k), scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(), ann_detail::better);
    scored.resize(keep);
    return scored;
}

}  // namespace encore
