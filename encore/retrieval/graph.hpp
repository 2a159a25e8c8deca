#pragma once
// The "graph" index: a layered navigable small-world graph in the HNSW manner. Every item is on the
// bottom layer (up to 2M links), a geometrically thinning subset on the layers above (up to M links).
// A query descends greedily from the entry point through the upper layers, then runs a beam search of
// width ef on the bottom layer (two candidates expanded per step, so twice the scattered loads are in
// flight). Neighbours are chosen with HNSW's diversity heuristic relaxed by Vamana's alpha (a
// candidate is dropped only when a kept neighbour is alpha times closer to it than the base is): the
// longer links kept halve the beam needed for recall 0.99 on ALS item factors.
//
// Build is parallel and deterministic: items are inserted in a seeded order, in batches that grow
// with the graph (3% of it, at most 4096). Within a batch every item searches the graph as it was
// before the batch (in parallel, read-only), then the reverse links are merged grouped by target node
// (in parallel, in a fixed order). The result depends on the seed and options only, not on threads.
// An item that would open a new top layer is inserted alone, so the upper layers stay connected.
//
// Layout (flat arrays, mapped in place): graph_links0 (per item 1 + 2M uint32: count, then ids),
// graph_upper_offsets (n + 1 uint32: item i's upper-layer rows are [off[i], off[i+1]), row r being
// layer r - off[i] + 1), graph_upper_links (rows of 1 + M uint32), graph_ids (node -> item), graph_nodes (item -> node). Nodes
// are numbered for locality (built in the leaf order of one random-hyperplane tree, then renumbered
// breadth-first over the bottom layer); the int8 codes are in node order, the float vectors in item
// order.
#include <cstdint>
#include <memory>

#include "encore/data/buffer.hpp"
#include "encore/retrieval/ann.hpp"

namespace encore {

class GraphIndex final : public AnnIndex {
public:
    static std::unique_ptr<GraphIndex> build(const Matrix& vectors, const IndexBuildOptions& options);
    static std::unique_ptr<GraphIndex> open(const ContainerReader& in);

    std::string_view kind() const override { return "graph"; }
    std::vector<ScoredItem> search(std::span<const float> query, int k, int search = 0) const override;
    std::vector<ScoredItem> search_item(std::int64_t item, int k, int search = 0) const override;

    int M() const { return M_; }
    int ef_construction() const { return ef_construction_; }
    float prune_alpha() const { return prune_alpha_; }
    int max_level() const { return max_level_; }

    struct Candidate {
        float dist;          // -score: smaller is closer
        std::uint32_t id;    // high bit: already expanded
    };

private:
    GraphIndex() = default;
    std::uint32_t kind_code() const override { return 2; }
    void add_sections(ContainerWriter& out) const override;

    // Links of item id on layer level (count clamped, empty when the item is not on that layer).
    std::span<const std::uint32_t> links(std::uint32_t id, int level) const;
    std::uint32_t* mutable_links(std::uint32_t id, int level);
    float dist(const float* q, std::uint32_t id) const;               // exact (while building)
    const float* node_row(std::uint32_t id) const { return node_rows_ + static_cast<std::int64_t>(id) * vectors_.stride(); }
    float approx_dist(const Prepared& q, std::uint32_t id) const;     // through the int8 codes
    void prefetch_links(std::uint32_t id, int level) const;
    // Greedy descent on one layer from *entry (ef = 1), on approximate distances.
    void greedy(const Prepared& q, int level, std::uint32_t& entry, float& entry_dist) const;
    // Beam search of width ef on one layer over the codes; pool holds the entry points (marked
    // visited) on input and the ef closest found, ascending by approximate distance, on output.
    void search_layer(const Prepared& q, int level, std::vector<Candidate>& pool, std::size_t ef,
                      ann_detail::VisitedSet& visited) const;
    // The bottom-layer beam from entry, exact re-rank, best k.
    std::vector<ScoredItem> search_from(const Prepared& q, std::uint32_t entry, float entry_dist, int k, int search) const;
    // HNSW's heuristic relaxed as in Vamana (Subramanya et al. 2019): from candidates ascending by
    // distance to base, keep at most m, each closer to base than alpha times its distance to every
    // kept one (Euclidean distances between the stored rows). alpha > 1 keeps some longer links,
    // which the search needs to reach the last few true neighbours.
    void select_neighbors(std::vector<Candidate>& candidates, std::size_t m) const;
    // Renumbers the built nodes in breadth-first order (links, codes; ids_ keeps the items):
    // neighbours' codes then share cache lines and pages, which the scattered reads need most.
    void renumber_for_locality();

    Buffer<std::uint32_t> links0_;
    Buffer<std::uint32_t> upper_offsets_;
    Buffer<std::uint32_t> upper_links_;
    Buffer<std::uint32_t> ids_;    // node -> item: nodes are numbered for locality
    Buffer<std::uint32_t> nodes_;  // item -> node
    const float* node_rows_ = nullptr;  // while building: the stored rows in node order (row stride)
    int M_ = 16, M0_ = 32, ef_construction_ = 200, max_level_ = 0;
    float prune_alpha_ = 1.0f;
    float radius2_ = 0.0f;  // while building: the largest squared norm of a stored row
    std::uint32_t entry_ = 0;
};

}  // namespace encore
