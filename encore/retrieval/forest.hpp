#pragma once
// The "forest" index: random-hyperplane trees in the Annoy manner. Each tree splits its items by the
// plane halfway between two centroids found by a short two-means run seeded with two sampled items,
// until at most leaf_size items remain. A query walks all trees at once with one priority queue
// (priority = the smallest margin to any plane crossed on the way), gathers search_k distinct
// candidates from the leaves it reaches, and re-ranks them exactly.
//
// Layout (flat arrays, mapped in place): forest_roots (int32 per tree), forest_nodes (16-byte Node
// per node, all trees back to back), forest_planes (one padded row per internal node: the unit normal),
// forest_items (each tree's permutation of the items; a leaf is a range of it).
#include <cstdint>
#include <memory>

#include "encore/data/buffer.hpp"
#include "encore/retrieval/ann.hpp"

namespace encore {

class ForestIndex final : public AnnIndex {
public:
    struct Node {
        std::int32_t a;  // internal: left child; leaf: first position in forest_items
        std::int32_t b;  // internal: right child; leaf: item count
        std::int32_t plane;  // internal: row in forest_planes; leaf: -1
        float offset;        // internal: side = normal . x + offset > 0 ? right : left
    };
    static_assert(sizeof(Node) == 16);

    static std::unique_ptr<ForestIndex> build(const Matrix& vectors, const IndexBuildOptions& options);
    static std::unique_ptr<ForestIndex> open(const ContainerReader& in);

    std::string_view kind() const override { return "forest"; }
    std::vector<ScoredItem> search(std::span<const float> query, int k, int search = 0) const override;

    int trees() const { return static_cast<int>(roots_.size()); }
    std::int64_t nodes() const { return static_cast<std::int64_t>(nodes_.size()); }
    int leaf_size() const { return leaf_size_; }

private:
    ForestIndex() = default;
    std::uint32_t kind_code() const override { return 1; }
    void add_sections(ContainerWriter& out) const override;

    Buffer<std::int32_t> roots_;
    Buffer<Node> nodes_;
    Buffer<float> planes_;  // rows of vectors_.stride() floats
    Buffer<std::int32_t> items_;
    int leaf_size_ = 0;
};

// The rows of x in the leaf order of one random-hyperplane tree (leaves of at most leaf_size rows):
// nearby rows get nearby positions. The graph builds in this order for cache locality.
std::vector<std::int32_t> tree_order(const Matrix& x, int leaf_size, std::uint64_t seed);

}  // namespace encore
