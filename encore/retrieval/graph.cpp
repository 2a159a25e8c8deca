#include "encore/retrieval/graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>


#include <omp.h>

#include "encore/io/container.hpp"
#include "encore/kernels/distance.hpp"
#include "encore/retrieval/forest.hpp"
#include "encore/util/error.hpp"
#include "encore/util/memory.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

using ann_detail::SplitMix;
using ann_detail::VisitedSet;

constexpr std::uint32_t kExpanded = 1u << 31;
constexpr int kMaxM = 256;
constexpr int kMaxLevel = 32;

struct GraphHeader {
    std::int32_t M;
    std::int32_t M0;
    std::int32_t ef_construction;
    std::int32_t max_level;
    std::int64_t entry;
    std::int64_t upper_rows;
    float prune_alpha;  // 0 in files written before it existed: they were built with 1
    std::uint8_t reserved[28];
};
static_assert(sizeof(GraphHeader) == 64);

struct Edge {
    std::int32_t level;
    std::uint32_t target, source;
    bool operator<(const Edge& o) const {
        return std::tie(level, target, source) < std::tie(o.level, o.target, o.source);
    }
};

// A zero-filled vector the kernel may back with 2 MB pages (asked for before the first touch): the
// build reads these arrays at random, and with 4 KB pages most of those reads also miss the TLB.
template <typename T>
std::vector<T> huge_page_vector(std::size_t n) {
    std::vector<T> v;
    v.reserve(n);
    advise_huge_pages(v.data(), n * sizeof(T));  // before the first touch
    v.resize(n);
    return v;
}

bool closer(const GraphIndex::Candidate& a, const GraphIndex::Candidate& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

}  // namespace

float GraphIndex::dist(const float* q, std::uint32_t id) const {
    return -kernels::inner_product(q, node_row(id), vectors_.stride());
}

std::span<const std::uint32_t> GraphIndex::links(std::uint32_t id, int level) const {
    if (level == 0) {
        const std::uint32_t* row = links0_.data() + static_cast<std::size_t>(id) * static_cast<std::size_t>(M0_ + 1);
        return {row + 1, std::min<std::size_t>(row[0], static_cast<std::size_t>(M0_))};
    }
    const std::uint32_t begin = upper_offsets_[id], end = upper_offsets_[id + 1];
    const std::uint64_t r = static_cast<std::uint64_t>(begin) + static_cast<std::uint64_t>(level - 1);
    const std::uint64_t rows = upper_links_.size() / static_cast<std::size_t>(M_ + 1);
    if (r >= end || r >= rows) return {};
    const std::uint32_t* row = upper_links_.data() + r * static_cast<std::uint64_t>(M_ + 1);
    return {row + 1, std::min<std::size_t>(row[0], static_cast<std::size_t>(M_))};
}

std::uint32_t* GraphIndex::mutable_links(std::uint32_t id, int level) {
    if (level == 0) return links0_.data() + static_cast<std::size_t>(id) * static_cast<std::size_t>(M0_ + 1);
    return upper_links_.data() +
           (static_cast<std::size_t>(upper_offsets_[id]) + static_cast<std::size_t>(level - 1)) * static_cast<std::size_t>(M_ + 1);
}

float GraphIndex::approx_dist(const Prepared& q, std::uint32_t id) const { return -approx_score(q, id); }

void GraphIndex::greedy(const Prepared& q, int level, std::uint32_t& entry, float& entry_dist) const {
    const auto n = static_cast<std::uint32_t>(size());
    for (bool moved = true; moved;) {
        moved = false;
        for (std::uint32_t j : links(entry, level)) {
            if (j >= n) continue;
            const float d = approx_dist(q, j);
            if (d < entry_dist) {
                entry_dist = d;
                entry = j;
                moved = true;
            }
        }
    }
}

void GraphIndex::search_layer(const Prepared& q, int level, std::vector<Candidate>& pool, std::size_t ef,
                              VisitedSet& visited) const {
    const auto n = static_cast<std::uint32_t>(size());
    const std::size_t code_bytes = static_cast<std::size_t>(code_stride_);
    // Each step expands the two best unexpanded candidates together: the search is bound by the
    // latency of fetching links rows and codes scattered over the index, and two expansions put
    // twice the loads in flight per round trip (measured +7-9% queries/s at equal recall; a third
    // gained nothing more).
    constexpr int kWidth = 2;
    std::uint32_t fresh[kWidth * 2 * kMaxM];
    std::size_t cursor = 0;
    while (cursor < pool.size()) {
        if (pool[cursor].id & kExpanded) {
            ++cursor;
            continue;
        }
        std::uint32_t chosen[kWidth];
        int nchosen = 0;
        for (std::size_t i = cursor; i < pool.size() && nchosen < kWidth; ++i) {
            if (pool[i].id & kExpanded) continue;
            pool[i].id |= kExpanded;
            chosen[nchosen++] = pool[i].id & ~kExpanded;
        }
        std::size_t m = 0;
        for (int c = 0; c < nchosen; ++c)
            for (std::uint32_t j : links(chosen[c], level))
                if (j < n && !visited.test_and_set(j)) {
                    fresh[m++] = j;
                    // The neighbours' codes are scattered: put all their loads in flight before scoring.
                    kernels::prefetch_bytes(code(j), code_bytes);
                }
        std::size_t lowest = cursor + 1;
        float score[kWidth * 2 * kMaxM];
        approx_scores(q, fresh, m, score);  // all the fresh neighbours in one batch
        for (std::size_t i = 0; i < m; ++i) {
            const float d = -score[i];
            if (pool.size() >= ef && !(d < pool.back().dist)) continue;
            auto it = std::upper_bound(pool.begin(), pool.end(), d,
                                       [](float v, const Candidate& c) { return v < c.dist; });
            const auto p = static_cast<std::size_t>(it - pool.begin());
            pool.insert(it, Candidate{d, fresh[i]});
            prefetch_links(fresh[i], level);  // it may be expanded soon: its links row is far away
            if (pool.size() > ef) pool.pop_back();
            lowest = std::min(lowest, p);
        }
        cursor = lowest;  // everything before it has been expanded
    }
    for (auto& c : pool) c.id &= ~kExpanded;
}

void GraphIndex::prefetch_links(std::uint32_t id, int level) const {
    if (level != 0 || id >= static_cast<std::uint32_t>(size())) return;
    kernels::prefetch_bytes(links0_.data() + static_cast<std::size_t>(id) * static_cast<std::size_t>(M0_ + 1),
                            static_cast<std::size_t>(M0_ + 1) * sizeof(std::uint32_t));
}

void GraphIndex::select_neighbors(std::vector<Candidate>& candidates, std::size_t m) const {
    if (candidates.size() <= m) return;
    // Every stored row has squared norm radius2_ (unit for cosine, the largest norm for the dot
    // transform), so radius2_ + dist is half the squared Euclidean distance: the rule compares
    // alpha^2 times that to a kept neighbour against that to the base.
    const float alpha2 = prune_alpha_ * prune_alpha_;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < candidates.size() && kept < m; ++i) {
        const Candidate c = candidates[i];
        const float* cv = node_row(c.id);
        const float to_base = radius2_ + c.dist;
        bool diverse = true;
        for (std::size_t s = 0; s < kept && diverse; ++s)
            diverse = alpha2 * (radius2_ + dist(cv, candidates[s].id)) >= to_base;
        if (diverse) candidates[kept++] = c;
    }
    candidates.resize(kept);
}

std::unique_ptr<GraphIndex> GraphIndex::build(const Matrix& vectors, const IndexBuildOptions& options) {
    if (options.M < 2 || options.M > kMaxM) throw OptionError(fmt::format("M must be 2..{}, got {}", kMaxM, options.M));
    if (options.ef_construction < 1 || options.ef_construction > 100000)
        throw OptionError(fmt::format("ef-construction must be 1..100000, got {}", options.ef_construction));
    if (options.ef < 0) throw OptionError(fmt::format("ef must be at least 0, got {}", options.ef));
    if (!(options.prune_alpha >= 1.0f && options.prune_alpha <= 2.0f))
        throw OptionError(fmt::format("alpha must be 1..2, got {}", options.prune_alpha));
    if (vectors.rows() >= static_cast<std::int64_t>(kExpanded) - 1)
        throw Error(fmt::format("{} vectors are too many for one index", vectors.rows()));
    std::unique_ptr<GraphIndex> index(new GraphIndex());
    GraphIndex& g = *index;
    std::vector<float> build_rows;  // the stored rows in node order, for the build only
    g.init_common(vectors, options.metric, options.ef > 0 ? options.ef : 64, options.seed, options.threads);
    g.M_ = options.M;
    g.M0_ = 2 * options.M;
    g.ef_construction_ = options.ef_construction;
    g.prune_alpha_ = options.prune_alpha;
    const auto n = static_cast<std::uint32_t>(g.size());
    for (std::uint32_t i = 0; i < n; ++i) {
        const float* r = g.vectors_.row(i);
        g.radius2_ = std::max(g.radius2_, kernels::inner_product(r, r, g.vectors_.stride()));
    }

    // Layers: P(level >= l) = M^-l, from one seeded sequence.
    SplitMix rng(options.seed ^ 0xA5A5A5A55A5A5A5Aull);
    const double ml = 1.0 / std::log(static_cast<double>(options.M));
    std::vector<std::uint8_t> level(n);
    std::vector<std::uint32_t> offsets(static_cast<std::size_t>(n) + 1, 0);
    for (std::uint32_t i = 0; i < n; ++i) {
        const double u = 1.0 - rng.uniform();  // (0, 1]
        level[i] = static_cast<std::uint8_t>(std::min(static_cast<int>(-std::log(u) * ml), kMaxLevel));
        offsets[i + 1] = offsets[i] + level[i];
    }
    g.links0_ = Buffer<std::uint32_t>(huge_page_vector<std::uint32_t>(static_cast<std::size_t>(n) * static_cast<std::size_t>(g.M0_ + 1)));
    g.upper_links_ = Buffer<std::uint32_t>(std::vector<std::uint32_t>(static_cast<std::size_t>(offsets[n]) * static_cast<std::size_t>(g.M_ + 1), 0));
    g.upper_offsets_ = Buffer<std::uint32_t>(std::move(offsets));
    if (n == 0) return index;

    // Build in a locality order: the nodes of one tree's leaf are neighbours in memory too, so the
    // insertions' scattered reads of codes and links hit far fewer cache lines and pages.
    const int threads = resolve_threads(options.threads);
    {
        const auto tree = tree_order(g.vectors_, 64, options.seed ^ 0x5EEDC0DEull);
        std::vector<std::uint32_t> ids(tree.begin(), tree.end());
        const auto cs = static_cast<std::size_t>(g.code_stride_);
        auto codes = huge_page_vector<std::int8_t>(g.codes_.size());
        const std::int64_t stride = g.vectors_.stride();
        build_rows = huge_page_vector<float>(static_cast<std::size_t>(n) * static_cast<std::size_t>(stride));
        float* rows = build_rows.data();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t v = 0; v < static_cast<std::int64_t>(n); ++v) {
            std::copy_n(g.vectors_.row(ids[static_cast<std::size_t>(v)]), stride, rows + v * stride);
            std::copy_n(g.code(ids[static_cast<std::size_t>(v)]), cs, codes.data() + static_cast<std::size_t>(v) * cs);
        }
        g.node_rows_ = rows;
        g.codes_ = Buffer<std::int8_t>(std::move(codes));
        g.ids_ = Buffer<std::uint32_t>(std::move(ids));
    }

    std::vector<std::uint32_t> order(n);
    for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
    for (std::uint32_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    g.entry_ = order[0];
    g.max_level_ = level[order[0]];

    std::vector<std::vector<Edge>> thread_edges(static_cast<std::size_t>(threads));
    std::vector<Edge> edges;
    std::vector<std::size_t> groups;
    const std::size_t efc = static_cast<std::size_t>(options.ef_construction);
    if (options.progress) options.progress->add(1);

    // One item's search of the graph as it stands before its batch; writes only its own rows.
    auto insert = [&](std::uint32_t u, std::vector<Edge>& out) {
        thread_local std::vector<Candidate> pool;
        const float* x = g.node_row(u);
        const Prepared q = g.prepare_stored(x);
        std::uint32_t ep = g.entry_;
        float ep_dist = g.approx_dist(q, ep);
        const int top = level[u];
        for (int l = g.max_level_; l > top; --l) g.greedy(q, l, ep, ep_dist);
        auto& visited = VisitedSet::local();
        for (int l = std::min(top, g.max_level_); l >= 0; --l) {
            visited.begin(n);
            visited.test_and_set(ep);
            pool.assign(1, Candidate{g.approx_dist(q, ep), ep});
            g.search_layer(q, l, pool, efc, visited);
            ep = pool[0].id;
            // The links are chosen on exact distances (the codes only steered the search).
            for (auto& c : pool) c.dist = g.dist(x, c.id);
            std::sort(pool.begin(), pool.end(), closer);  // ties in a fixed order
            g.select_neighbors(pool, static_cast<std::size_t>(g.M_));
            std::uint32_t* row = g.mutable_links(u, l);
            row[0] = static_cast<std::uint32_t>(pool.size());
            for (std::size_t i = 0; i < pool.size(); ++i) {
                row[i + 1] = pool[i].id;
                out.push_back({l, pool[i].id, u});
            }
        }
    };
    // Adds new sources to target's links on one layer, re-selecting with the heuristic when full.
    auto connect = [&](const Edge* first, const Edge* last) {
        thread_local std::vector<Candidate> cands;
        const std::uint32_t v = first->target;
        const int l = first->level;
        const std::size_t cap = static_cast<std::size_t>(l == 0 ? g.M0_ : g.M_);
        std::uint32_t* row = g.mutable_links(v, l);
        const std::size_t have = row[0], add = static_cast<std::size_t>(last - first);
        if (have + add <= cap) {
            for (std::size_t i = 0; i < add; ++i) row[1 + have + i] = first[i].source;
            row[0] = static_cast<std::uint32_t>(have + add);
            return;
        }
        const float* vv = g.node_row(v);
        cands.clear();
        for (std::size_t i = 0; i < have; ++i) cands.push_back({g.dist(vv, row[1 + i]), row[1 + i]});
        for (const Edge* e = first; e != last; ++e) cands.push_back({g.dist(vv, e->source), e->source});
        std::sort(cands.begin(), cands.end(), closer);
        g.select_neighbors(cands, cap);
        row[0] = static_cast<std::uint32_t>(cands.size());
        for (std::size_t i = 0; i < cands.size(); ++i) row[1 + i] = cands[i].id;
    };

    std::size_t pos = 1;
    while (pos < n) {
        std::size_t end = std::min<std::size_t>(n, pos + std::clamp<std::size_t>(pos / 32, 1, 4096));
        for (std::size_t t = pos; t < end; ++t)
            if (level[order[t]] > g.max_level_) {
                end = t == pos ? t + 1 : t;
                break;
            }
        for (auto& e : thread_edges) e.clear();  // a serial batch leaves the other threads' lists alone
#pragma omp parallel num_threads(threads) if (end - pos >= 8)
        {
            auto& out = thread_edges[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
            for (std::size_t t = pos; t < end; ++t) insert(order[t], out);
        }
        edges.clear();
        for (auto& e : thread_edges) edges.insert(edges.end(), e.begin(), e.end());
        std::sort(edges.begin(), edges.end());
        groups.clear();
        for (std::size_t i = 0; i < edges.size(); ++i)
            if (i == 0 || edges[i].level != edges[i - 1].level || edges[i].target != edges[i - 1].target) groups.push_back(i);
        groups.push_back(edges.size());
        const auto n_groups = static_cast<std::int64_t>(groups.size()) - 1;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 32) if (n_groups >= 64)
        for (std::int64_t gi = 0; gi < n_groups; ++gi)
            connect(edges.data() + groups[static_cast<std::size_t>(gi)], edges.data() + groups[static_cast<std::size_t>(gi) + 1]);
        for (std::size_t t = pos; t < end; ++t)
            if (level[order[t]] > g.max_level_) {
                g.max_level_ = level[order[t]];
                g.entry_ = order[t];
            }
        if (options.progress) options.progress->add(static_cast<double>(end - pos));
        pos = end;
    }
    g.renumber_for_locality();
    g.node_rows_ = nullptr;
    return index;
}

void GraphIndex::renumber_for_locality() {
    const auto n = static_cast<std::uint32_t>(size());
    // Breadth-first order over the bottom layer from the entry point (then anything unreached, by
    // id): a node's neighbours get nearby numbers, so their codes share cache lines and pages.
    std::vector<std::uint32_t> order;
    order.reserve(n);
    std::vector<std::uint32_t> renum(n, std::numeric_limits<std::uint32_t>::max());
    auto visit = [&](std::uint32_t v) {
        renum[v] = static_cast<std::uint32_t>(order.size());
        order.push_back(v);
    };
    for (std::uint32_t start = entry_, next_unreached = 0; order.size() < n;) {
        std::size_t head = order.size();
        visit(start);
        for (; head < order.size(); ++head)
            for (std::uint32_t j : links(order[head], 0))
                if (renum[j] == std::numeric_limits<std::uint32_t>::max()) visit(j);
        while (next_unreached < n && renum[next_unreached] != std::numeric_limits<std::uint32_t>::max()) ++next_unreached;
        start = next_unreached;
    }
    const std::size_t row0 = static_cast<std::size_t>(M0_ + 1), row_up = static_cast<std::size_t>(M_ + 1);
    auto links0 = huge_page_vector<std::uint32_t>(links0_.size());
    std::vector<std::uint32_t> offsets(static_cast<std::size_t>(n) + 1, 0), upper(upper_links_.size());
    const auto cs = static_cast<std::size_t>(code_stride_);
    auto codes = huge_page_vector<std::int8_t>(codes_.size());
    for (std::uint32_t v = 0; v < n; ++v) {
        const std::uint32_t old = order[v];
        const std::uint32_t levels = upper_offsets_[old + 1] - upper_offsets_[old];
        offsets[v + 1] = offsets[v] + levels;
        std::copy_n(code(old), cs, codes.data() + v * cs);
        for (std::uint32_t l = 0; l <= levels; ++l) {
            const std::uint32_t* src = l == 0 ? links0_.data() + old * row0 : upper_links_.data() + (upper_offsets_[old] + l - 1) * row_up;
            std::uint32_t* dst = l == 0 ? links0.data() + v * row0 : upper.data() + (offsets[v] + l - 1) * row_up;
            dst[0] = src[0];
            for (std::uint32_t i = 1; i <= src[0]; ++i) dst[i] = renum[src[i]];
        }
    }
    links0_ = Buffer<std::uint32_t>(std::move(links0));
    upper_offsets_ = Buffer<std::uint32_t>(std::move(offsets));
    upper_links_ = Buffer<std::uint32_t>(std::move(upper));
    codes_ = Buffer<std::int8_t>(std::move(codes));
    for (auto& v : order) v = ids_[v];
    std::vector<std::uint32_t> nodes(n);
    for (std::uint32_t v = 0; v < n; ++v) nodes[order[v]] = v;
    ids_ = Buffer<std::uint32_t>(std::move(order));
    nodes_ = Buffer<std::uint32_t>(std::move(nodes));
    entry_ = renum[entry_];
}

void GraphIndex::add_sections(ContainerWriter& out) const {
    GraphHeader h;
    std::memset(&h, 0, sizeof h);
    h.M = M_;
    h.M0 = M0_;
    h.ef_construction = ef_construction_;
    h.prune_alpha = prune_alpha_;
    h.max_level = max_level_;
    h.entry = entry_;
    h.upper_rows = static_cast<std::int64_t>(upper_links_.size()) / (M_ + 1);
    out.add_text("graph_header", std::string(reinterpret_cast<const char*>(&h), sizeof h));
    out.add_array("graph_links0", links0_.span());
    out.add_array("graph_upper_offsets", upper_offsets_.span());
    out.add_array("graph_upper_links", upper_links_.span());
    out.add_array("graph_ids", ids_.span());
    out.add_array("graph_nodes", nodes_.span());
}

std::unique_ptr<GraphIndex> GraphIndex::open(const ContainerReader& in) {
    std::unique_ptr<GraphIndex> index(new GraphIndex());
    index->open_common(in);
    GraphHeader h;
    auto hs = in.array<const std::byte>("graph_header", sizeof(GraphHeader));
    std::memcpy(&h, hs.data(), sizeof h);
    const std::int64_t n = index->size();
    if (h.M < 2 || h.M > kMaxM || h.M0 != 2 * h.M || h.max_level < 0 || h.max_level > kMaxLevel ||
        (n > 0 && (h.entry < 0 || h.entry >= n)) || h.upper_rows < 0)
        throw FormatError(in.path(), fmt::format("inconsistent graph header (M {}, entry {}, max level {} for {} rows)", h.M,
                                                 h.entry, h.max_level, n));
    auto keep = in.file();
    index->M_ = h.M;
    index->M0_ = h.M0;
    index->ef_construction_ = h.ef_construction;
    index->prune_alpha_ = h.prune_alpha > 0.0f ? h.prune_alpha : 1.0f;
    index->max_level_ = h.max_level;
    index->entry_ = static_cast<std::uint32_t>(h.entry);
    index->links0_ = Buffer<std::uint32_t>::view(
        in.array<std::uint32_t>("graph_links0", static_cast<std::size_t>(n * (h.M0 + 1))), keep);
    index->upper_offsets_ = Buffer<std::uint32_t>::view(
        in.array<std::uint32_t>("graph_upper_offsets", static_cast<std::size_t>(n + 1)), keep);
    index->upper_links_ = Buffer<std::uint32_t>::view(
        in.array<std::uint32_t>("graph_upper_links", static_cast<std::size_t>(h.upper_rows * (h.M + 1))), keep);
    index->ids_ = Buffer<std::uint32_t>::view(in.array<std::uint32_t>("graph_ids", static_cast<std::size_t>(n)), keep);
    index->nodes_ = Buffer<std::uint32_t>::view(in.array<std::uint32_t>("graph_nodes", static_cast<std::size_t>(n)), keep);
    if (index->upper_offsets_[static_cast<std::size_t>(n)] != static_cast<std::uint64_t>(h.upper_rows))
        throw FormatError(in.path(), "graph layer offsets do not match the upper-layer links");
    return index;
}

std::vector<ScoredItem> GraphIndex::search(std::span<const float> query, int k, int search) const {
    const Prepared q = prepare_query(query);
    if (k < 0) fail("number of results must be at least 0, got {}", k);
    if (k == 0 || size() == 0) return {};
    std::uint32_t ep = entry_;
    float ep_dist = approx_dist(q, ep);
    for (int l = max_level_; l > 0; --l) greedy(q, l, ep, ep_dist);
    return search_from(q, ep, ep_dist, k, search);
}

std::vector<ScoredItem> GraphIndex::search_item(std::int64_t item, int k, int search) const {
    if (item < 0 || item >= size()) fail("item {} is out of range (the index has {} items)", item, size());
    const Prepared q = prepare_query(item_vector(item));
    if (k < 0) fail("number of results must be at least 0, got {}", k);
    if (k == 0) return {};
    const std::uint32_t node = nodes_[static_cast<std::size_t>(item)];
    if (node >= static_cast<std::uint32_t>(size())) return this->search(item_vector(item), k, search);  // corrupted file
    return search_from(q, node, approx_dist(q, node), k, search);
}

std::vector<ScoredItem> GraphIndex::search_from(const Prepared& q, std::uint32_t ep, float ep_dist, int k, int search) const {
    const std::int64_t n = size();
    k = static_cast<int>(std::min<std::int64_t>(k, n));
    const std::size_t ef = static_cast<std::size_t>(std::max(search > 0 ? search : default_search_, k));
    auto& visited = VisitedSet::local();
    visited.begin(n);
    visited.test_and_set(ep);
    thread_local std::vector<Candidate> pool;
    pool.assign(1, Candidate{ep_dist, ep});
    search_layer(q, 0, pool, ef, visited);
    // Exact re-rank of the beam: the codes found the neighbourhood, the float rows order it.
    const std::size_t row_bytes = static_cast<std::size_t>(vectors_.cols()) * sizeof(float);
    // Nodes are numbered for locality; graph_ids maps them back to items (bounds-checked: the file
    // may be corrupted).
    std::size_t m = 0;
    for (auto& c : pool) {
        const std::uint32_t item = ids_[c.id];
        if (item >= static_cast<std::uint32_t>(n)) continue;
        kernels::prefetch_bytes(vectors_.row(item), row_bytes);
        pool[m++].id = item;
    }
    std::vector<ScoredItem> out(m);
    for (std::size_t i = 0; i < m; ++i) out[i] = {static_cast<std::int32_t>(pool[i].id), score(q.exact, pool[i].id)};
    const auto keep = std::min<std::size_t>(static_cast<std::size_t>(k), out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), ann_detail::better);
    out.resize(keep);
    return out;
}

}  // namespace encore
