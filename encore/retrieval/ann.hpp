#pragma once
// Approximate nearest neighbours over item vectors: one interface, two kinds behind it, one file format.
//
//   auto index = build_index(model.item_factors, {.kind = "graph", .metric = AnnMetric::cosine});
//   index->save("items.enci");
//   auto mapped = open_index("items.enci");          // mmap + header checks: milliseconds
//   auto top = mapped->search(query, 10);            // ScoredItem{id = model item, score}
//
// Kinds: "forest" (random-hyperplane trees in the Annoy manner, query effort = search_k, the number
// of candidates gathered before exact re-ranking) and "graph" (a layered navigable small-world graph
// in the HNSW manner, query effort = ef, the beam width).
//
// Metrics are both reduced to a maximum inner product over stored vectors that all have the same
// norm, which is what both structures need (a split plane or a graph edge means "closer" the same way
// for every query): cosine stores the normalised rows (queries are normalised too); dot stores each
// row y augmented with sqrt(max|y|^2 - |y|^2) and queries get a 0 there, so q.y' = q.y exactly
// (norm augmentation for maximum inner product search). Scores returned are therefore the exact
// cosine / dot product of the query with the item.
//
// The .enci file (docs/formats.md) is a container (magic "ENCOINDX"): a fixed header section, the
// stored vectors (rows padded to 16 floats, 64-byte aligned), and the kind's flat arrays. open_index
// maps it and checks the container header, section table and section sizes only; the arrays are used
// in place. Checksumming every section would read the whole file (hundreds of MB for large indexes)
// and turn a millisecond open into a full read, so section checksums are checked only on request
// (open_index(path, true) or verify_index). Searching never trusts the arrays blindly: every id read
// from the file is bounds-checked, so a corrupted but unverified file gives poor answers, never a crash.
//
// Indexes are immutable once built and search() is thread-safe (scratch space is per thread).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/data/buffer.hpp"
#include "encore/data/matrix.hpp"
#include "encore/retrieval/topk.hpp"

namespace encore {

class Progress;
class ContainerWriter;
class ContainerReader;

enum class AnnMetric : std::uint32_t { cosine = 1, dot = 2 };

// "cosine" | "dot"; anything else -> OptionError.
AnnMetric parse_metric(std::string_view name);
std::string_view metric_name(AnnMetric metric);

struct IndexBuildOptions {
    std::string kind = "graph";  // "forest" | "graph"
    AnnMetric metric = AnnMetric::cosine;
    // forest
    int trees = 50;       // more trees: higher recall at a given search_k, bigger file
    // A node with at most this many items is a leaf. Large leaves pay here: candidates are scored
    // through one-cache-line int8 codes, while every tree level costs a scattered split-plane read.
    int leaf_size = 512;
    int search_k = 0;     // default query effort stored in the file; 0 = 100 * trees
    // graph
    // Defaults chosen on the 292K x 64 ALS item factors (bench/README.md): M = 32, a beam of 120 and
    // alpha 1.1 build in ~13 s on 2 cores; alpha 1.1 instead of HNSW's 1 reaches recall 0.99 with
    // half the query beam (ef 80-96 instead of 160).
    int M = 32;                 // links per node on upper layers; 2M on the bottom layer
    int ef_construction = 120;  // beam width while building
    float prune_alpha = 1.1f;   // neighbour pruning: 1 = HNSW's heuristic, more keeps longer links
    int ef = 0;                 // default query beam width stored in the file; 0 = 64
    std::uint64_t seed = 0;
    int threads = 0;               // 0 = all cores; the result depends on seed only, not on threads
    Progress* progress = nullptr;  // advanced by items inserted (graph) or trees built (forest)
};

class AnnIndex {
public:
    virtual ~AnnIndex() = default;
    AnnIndex(const AnnIndex&) = delete;
    AnnIndex& operator=(const AnnIndex&) = delete;

    virtual std::string_view kind() const = 0;
    AnnMetric metric() const { return metric_; }
    std::int64_t size() const { return vectors_.rows(); }
    std::int64_t dim() const { return dim_; }  // query length (the model's factors)
    // The query effort used when search() gets 0 (search_k or ef, as stored at build).
    int default_search() const { return default_search_; }
    // XXH3 of the source vectors' storage: ties the index to the model it was built from.
    std::uint64_t source_fingerprint() const { return fingerprint_; }

    // The k items with the highest score (cosine or dot) for query (length dim()), best first, ties
    // by lower id. search = effort (0: default_search()); it is raised to at least k. Returns
    // min(k, size()) items when the structure reaches that many (always, in practice), never more.
    virtual std::vector<ScoredItem> search(std::span<const float> query, int k, int search = 0) const = 0;

    // search(item_vector(item), k, search): the same answers in kind, for an item of the index
    // itself (related items); a graph starts its beam at the item's own node instead of descending
    // from the entry point, which saves the approach.
    // An item outside [0, size()) -> Error.
    virtual std::vector<ScoredItem> search_item(std::int64_t item, int k, int search = 0) const;

    // The stored row of an item as the index compares it (cosine: normalised; dot: the raw factors),
    // length dim(). A related-items query for item i is search(item_vector(i), ...).
    std::span<const float> item_vector(std::int64_t item) const { return {vectors_.row(item), static_cast<std::size_t>(dim_)}; }

    // Atomic write of the .enci file.
    void save(const std::string& path) const;

protected:
    AnnIndex() = default;
    virtual std::uint32_t kind_code() const = 0;
    virtual void add_sections(ContainerWriter& out) const = 0;
    // A query ready for both scorings: exact (stored form: normalised or augmented, zero-padded to the
    // row stride) for the final ranking, and scaled + bias for the int8 codes the traversal reads.
    struct Prepared {
        const float* exact;
        const float* scaled;  // exact[j] * code scale[j], zero-padded to code_stride_
        float bias;           // exact . code mid
    };
    // Per-thread buffers, valid until the next prepare on this thread.
    Prepared prepare_query(std::span<const float> query) const;
    // stored: a row in stored form (a stored item itself while building); kept by pointer.
    Prepared prepare_stored(const float* stored) const;
    float score(const float* q, std::int64_t row) const;
    const std::int8_t* code(std::int64_t row) const { return codes_.data() + row * code_stride_; }
    // Approximate score through the codes: within about 1e-3 of the exact one for unit vectors.
    float approx_score(const Prepared& q, std::int64_t row) const;
    // approx_score for m rows at once (out[i] for rows[i]): one batched kernel call.
    void approx_scores(const Prepared& q, const std::uint32_t* rows, std::size_t m, float* out) const;

    AnnMetric metric_ = AnnMetric::cosine;
    std::int64_t dim_ = 0;
    Matrix vectors_;  // size x stored dim (dim or dim + 1), rows 64-byte aligned, zero padding
    // The low-precision copy searches traverse with (a 64-factor row is one cache line instead of
    // four): stored value x_j ~ mid[j] + scale[j] * c_j, c_j in [-127, 127]; rows of code_stride_
    // bytes (stored dim rounded up to 64), zero padding, in the kind's node order (forest: items;
    // graph: its locality order). Exact float scores re-rank the final few.
    Buffer<std::int8_t> codes_;
    Buffer<float> code_params_;  // code_stride_ mids, then code_stride_ scales
    std::int64_t code_stride_ = 0;
    std::uint64_t fingerprint_ = 0;
    int default_search_ = 0;
    std::uint64_t seed_ = 0;
    std::shared_ptr<const void> keepalive_;  // the mapping, for opened indexes

    friend std::unique_ptr<AnnIndex> build_index(const Matrix& vectors, const IndexBuildOptions& options);
    friend std::unique_ptr<AnnIndex> open_index(const std::string& path, bool verify);
    friend class ForestIndex;
    friend class GraphIndex;
    // Common fields from / into the container (the kind-specific parts are the subclasses').
    void init_common(const Matrix& source, AnnMetric metric, int default_search, std::uint64_t seed, int threads);
    void open_common(const ContainerReader& in);
    void init_codes(int threads);  // codes_ from vectors_
};

// The factory: builds the kind named in options.kind ("forest" | "graph"; else OptionError). Bad
// parameters (trees < 1, M < 2, ...) -> OptionError naming the option.
std::unique_ptr<AnnIndex> build_index(const Matrix& vectors, const IndexBuildOptions& options);

// Maps an .enci file. verify = also check every section checksum (reads the whole file). A wrong
// magic, unknown version, truncated file or inconsistent header -> FormatError naming the file.
std::unique_ptr<AnnIndex> open_index(const std::string& path, bool verify = false);

// Checks every section checksum of an .enci file; FormatError on the first mismatch.
void verify_index(const std::string& path);

// The fingerprint build_index stores for these vectors (compare with source_fingerprint()).
std::uint64_t vectors_fingerprint(const Matrix& vectors);

// Version 2 added the int8 codes ("codes", "code_params"); version 1 files are refused (rebuild).
inline constexpr std::uint32_t kIndexVersion = 2;

namespace ann_detail {

// Per-thread "seen in this query" marks with epoch counters: starting a query is O(1) (bump the
// epoch), and the array is cleared only when the 16-bit epoch wraps.
class VisitedSet {
public:
    void begin(std::int64_t n);
    bool test_and_set(std::uint32_t id) {
        if (marks_[id] == epoch_) return true;
        marks_[id] = epoch_;
        return false;
    }
    bool test(std::uint32_t id) const { return marks_[id] == epoch_; }
    static VisitedSet& local();

private:
    std::vector<std::uint16_t> marks_;
    std::uint16_t epoch_ = 0;
};

// Best first by score, ties by lower id (the exact path's order).
inline bool better(const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// A small deterministic generator (splitmix64): the same sequence on every platform.
class SplitMix {
public:
    explicit SplitMix(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) { return next() % n; }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::uint64_t state_;
};

}  // namespace ann_detail

}  // namespace encore
